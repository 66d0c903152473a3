from shared.core.runtime import serve


def main_handler(event, context):
    return serve("set_location_consent", event, context)
