from shared.core.runtime import serve


def main_handler(event, context):
    return serve("help_assist", event, context)
