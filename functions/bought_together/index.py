from shared.core.runtime import serve


def main_handler(event, context):
    return serve("bought_together", event, context)
