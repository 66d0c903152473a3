from shared.core.runtime import serve


def main_handler(event, context):
    return serve("order_counts", event, context)
