from shared.core.runtime import serve


def main_handler(event, context):
    return serve("request_after_sale", event, context)
