from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_review_after_sale", event, context)
