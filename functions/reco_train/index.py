from shared.core.runtime import serve


def main_handler(event, context):
    return serve("reco_train", event, context)
