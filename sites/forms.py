"""Dashboard forms: they translate HTML input and call the one write path.

Validation rules (URL normalisation, the private-address guard, interval and
timeout limits, uniqueness) live in sites.models and sites.services; the form
only shows their messages next to the right field.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from sites.models import MAX_INTERVAL, MAX_TIMEOUT, MIN_INTERVAL, Site
from sites.services import site_create
from sites.targets import MAX_URL_LENGTH
from teams.models import Project


class SiteForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=MAX_URL_LENGTH,
        widget=forms.TextInput(
            attrs={"placeholder": "https://example.com", "autocomplete": "off", "inputmode": "url"}
        ),
    )
    name = forms.CharField(
        label="Name",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Optional"}),
    )
    # The limits are enforced by Site.full_clean(); the widget attributes only
    # let the browser say so before a round trip.
    interval = forms.IntegerField(
        label="Check every (s)",
        initial=60,
        widget=forms.NumberInput(attrs={"min": MIN_INTERVAL, "max": MAX_INTERVAL}),
    )
    timeout = forms.IntegerField(
        label="Timeout (s)",
        initial=10,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_TIMEOUT}),
    )

    def save(self, *, project: Project) -> Site | None:
        """Create the site through sites.services, or attach its errors to the form."""
        try:
            return site_create(project=project, **self.cleaned_data)
        except ValidationError as exc:
            self._add_service_errors(exc)
            return None

    def _add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, messages in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class FirstAdminForm(UserCreationForm):
    """Creates the first account, a superuser, and only while no user exists."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)

    def save(self, commit: bool = True) -> AbstractBaseUser | None:
        """Save the superuser, or return None if another account appeared meanwhile."""
        user = super().save(commit=False)
        user.is_staff = True
        user.is_superuser = True
        with transaction.atomic():
            _lock_user_table()
            if get_user_model().objects.exists():
                return None
            user.save()
        return user


def _lock_user_table() -> None:
    # Two first-run requests at once must not both create an admin. SQLite
    # already serialises them: settings use BEGIN IMMEDIATE, so the exists()
    # check and the insert run under the database's write lock. PostgreSQL
    # needs a table lock that conflicts with itself for the same guarantee.
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(get_user_model()._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
