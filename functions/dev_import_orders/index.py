from shared.core.runtime import serve


def main_handler(event, context):
    return serve("dev_import_orders", event, context)
