from shared.core.runtime import serve


def main_handler(event, context):
    return serve("wechat_message", event, context)
