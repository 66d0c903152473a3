from shared.core.runtime import serve


def main_handler(event, context):
    return serve("sign_in", event, context)
