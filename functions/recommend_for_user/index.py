from shared.core.runtime import serve


def main_handler(event, context):
    return serve("recommend_for_user", event, context)
