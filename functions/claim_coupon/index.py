from shared.core.runtime import serve


def main_handler(event, context):
    return serve("claim_coupon", event, context)
