from shared.core.runtime import serve


def main_handler(event, context):
    return serve("forecast_train", event, context)
