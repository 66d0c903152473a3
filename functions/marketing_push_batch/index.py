from shared.core.runtime import serve


def main_handler(event, context):
    return serve("marketing_push_batch", event, context)
