from shared.core.runtime import serve


def main_handler(event, context):
    return serve("refund_notify", event, context)
