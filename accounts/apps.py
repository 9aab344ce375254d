from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People and sign-in, on django-allauth: limits, 2FA policy, SSO, the audit of sign-ins."""

    name = "accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the receivers)
