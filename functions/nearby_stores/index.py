from shared.core.runtime import serve


def main_handler(event, context):
    return serve("nearby_stores", event, context)
