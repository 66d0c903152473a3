from shared.core.runtime import serve


def main_handler(event, context):
    return serve("list_live_rooms", event, context)
