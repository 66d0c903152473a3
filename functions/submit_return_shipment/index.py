from shared.core.runtime import serve


def main_handler(event, context):
    return serve("submit_return_shipment", event, context)
