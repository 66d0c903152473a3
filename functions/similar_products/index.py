from shared.core.runtime import serve


def main_handler(event, context):
    return serve("similar_products", event, context)
