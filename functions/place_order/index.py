from shared.core.runtime import serve


def main_handler(event, context):
    return serve("place_order", event, context)
