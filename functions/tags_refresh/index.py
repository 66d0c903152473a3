from shared.core.runtime import serve


def main_handler(event, context):
    return serve("tags_refresh", event, context)
