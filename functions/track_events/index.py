from shared.core.runtime import serve


def main_handler(event, context):
    return serve("track_events", event, context)
