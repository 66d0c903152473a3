from shared.core.runtime import serve


def main_handler(event, context):
    return serve("insight_rollup", event, context)
