from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_end_group_buy", event, context)
