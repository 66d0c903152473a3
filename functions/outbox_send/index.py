from shared.core.runtime import serve


def main_handler(event, context):
    return serve("outbox_send", event, context)
