from shared.core.runtime import serve


def main_handler(event, context):
    return serve("preview_order", event, context)
