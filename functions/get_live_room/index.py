from shared.core.runtime import serve


def main_handler(event, context):
    return serve("get_live_room", event, context)
