from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_create_community", event, context)
