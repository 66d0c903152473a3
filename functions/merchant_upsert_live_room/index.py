from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_upsert_live_room", event, context)
