from shared.core.runtime import serve


def main_handler(event, context):
    return serve("trace_anchor", event, context)
