from shared.core.runtime import serve


def main_handler(event, context):
    return serve("assistant_ask", event, context)
