from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        # Connect the receivers: the endpoint flag, and the fan-out of the outbox's new events.
        from webhooks import outbound, signals  # noqa: F401
