from shared.core.runtime import serve


def main_handler(event, context):
    return serve("list_bargains", event, context)
