from shared.core.runtime import serve


def main_handler(event, context):
    return serve("list_assists", event, context)
