from shared.core.runtime import serve


def main_handler(event, context):
    return serve("confirm_receipt", event, context)
