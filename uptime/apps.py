from django.apps import AppConfig


class UptimeConfig(AppConfig):
    """Configuration and wiring: the deploy checks, and the count of redelivered tasks."""

    name = "uptime"
    verbose_name = "Uptime"

    def ready(self) -> None:
        from uptime import checks  # noqa: F401  (registers the system checks)
