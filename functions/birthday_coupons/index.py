from shared.core.runtime import serve


def main_handler(event, context):
    return serve("birthday_coupons", event, context)
