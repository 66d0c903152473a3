from shared.core.runtime import serve


def main_handler(event, context):
    return serve("hot_searches", event, context)
