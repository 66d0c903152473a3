from shared.core.runtime import serve


def main_handler(event, context):
    return serve("pay_reconcile", event, context)
