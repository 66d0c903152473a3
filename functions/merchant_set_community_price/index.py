from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_set_community_price", event, context)
