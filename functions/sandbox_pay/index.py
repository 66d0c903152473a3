from shared.core.runtime import serve


def main_handler(event, context):
    return serve("sandbox_pay", event, context)
