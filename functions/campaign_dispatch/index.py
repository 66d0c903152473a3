from shared.core.runtime import serve


def main_handler(event, context):
    return serve("campaign_dispatch", event, context)
