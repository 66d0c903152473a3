from shared.core.runtime import serve


def main_handler(event, context):
    return serve("set_tracking_consent", event, context)
