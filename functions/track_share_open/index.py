from shared.core.runtime import serve


def main_handler(event, context):
    return serve("track_share_open", event, context)
