from shared.core.runtime import serve


def main_handler(event, context):
    return serve("start_assist", event, context)
