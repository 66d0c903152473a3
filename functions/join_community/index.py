from shared.core.runtime import serve


def main_handler(event, context):
    return serve("join_community", event, context)
