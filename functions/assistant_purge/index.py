from shared.core.runtime import serve


def main_handler(event, context):
    return serve("assistant_purge", event, context)
