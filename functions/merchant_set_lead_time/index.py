from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_set_lead_time", event, context)
