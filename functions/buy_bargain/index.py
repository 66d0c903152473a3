from shared.core.runtime import serve


def main_handler(event, context):
    return serve("buy_bargain", event, context)
