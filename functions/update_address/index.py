from shared.core.runtime import serve


def main_handler(event, context):
    return serve("update_address", event, context)
