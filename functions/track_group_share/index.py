from shared.core.runtime import serve


def main_handler(event, context):
    return serve("track_group_share", event, context)
