from shared.core.runtime import serve


def main_handler(event, context):
    return serve("dev_run_timer", event, context)
