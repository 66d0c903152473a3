from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_append_trace_event", event, context)
