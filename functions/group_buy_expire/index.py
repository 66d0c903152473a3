from shared.core.runtime import serve


def main_handler(event, context):
    return serve("group_buy_expire", event, context)
