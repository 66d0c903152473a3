from shared.core.runtime import serve


def main_handler(event, context):
    return serve("add_address", event, context)
