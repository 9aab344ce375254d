from django.apps import AppConfig


class UptimeConfig(AppConfig):
    """Configuration and wiring: the deploy checks, and the count of redelivered tasks."""

    name = "uptime"
    verbose_name = "Uptime"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from uptime import checks  # noqa: F401  (registers the system checks)
        from uptime.middleware import stamp_sign_in

        user_logged_in.connect(stamp_sign_in, dispatch_uid="uptime-session-signed-in-at")
