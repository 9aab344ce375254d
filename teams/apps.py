from django.apps import AppConfig


class TeamsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "teams"
    verbose_name = "Teams"

    def ready(self) -> None:
        from teams import signals  # noqa: F401  (connects the receivers)
