from shared.core.runtime import serve


def main_handler(event, context):
    return serve("delete_account", event, context)
