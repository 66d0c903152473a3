from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_mark_paid", event, context)
