from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_confirm_return_received", event, context)
