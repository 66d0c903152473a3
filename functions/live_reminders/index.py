from shared.core.runtime import serve


def main_handler(event, context):
    return serve("live_reminders", event, context)
