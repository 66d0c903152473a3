from shared.core.runtime import serve


def main_handler(event, context):
    return serve("create_share", event, context)
