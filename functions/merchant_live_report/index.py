from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_live_report", event, context)
