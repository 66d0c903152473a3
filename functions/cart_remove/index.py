from shared.core.runtime import serve


def main_handler(event, context):
    return serve("cart_remove", event, context)
