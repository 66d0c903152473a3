from shared.core.runtime import serve


def main_handler(event, context):
    return serve("commission_release", event, context)
