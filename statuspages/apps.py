from django.apps import AppConfig


class StatusPagesConfig(AppConfig):
    name = "statuspages"
    verbose_name = "Status pages"

    def ready(self) -> None:
        from statuspages import receivers  # noqa: F401  (connects the signal)
