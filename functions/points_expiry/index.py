from shared.core.runtime import serve


def main_handler(event, context):
    return serve("points_expiry", event, context)
