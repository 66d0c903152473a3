from shared.core.runtime import serve


def main_handler(event, context):
    return serve("merchant_experiment_report", event, context)
