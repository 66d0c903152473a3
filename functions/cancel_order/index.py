from shared.core.runtime import serve


def main_handler(event, context):
    return serve("cancel_order", event, context)
