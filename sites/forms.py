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
from sites.services import site_create, site_update
from sites.targets import MAX_URL_LENGTH
from teams.models import Project
from teams.selectors import editable_project_ids
from teams.services import personal_project_ensure


def _name_field() -> forms.CharField:
    return forms.CharField(
        label="Name",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Optional"}),
    )


# The limits are enforced by Site.full_clean(); the widget attributes only let
# the browser say so before a round trip.
def _interval_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Check every (s)",
        initial=60,
        widget=forms.NumberInput(attrs={"min": MIN_INTERVAL, "max": MAX_INTERVAL}),
    )


def _timeout_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Timeout (s)",
        initial=10,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_TIMEOUT}),
    )


class _ServiceErrorsMixin:
    def _add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, messages in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class SiteForm(_ServiceErrorsMixin, forms.Form):
    """Add a site to one of the projects where the user may edit monitors."""

    url = forms.CharField(
        label="URL",
        max_length=MAX_URL_LENGTH,
        widget=forms.TextInput(
            attrs={"placeholder": "https://example.com", "autocomplete": "off", "inputmode": "url"}
        ),
    )
    name = _name_field()
    interval = _interval_field()
    timeout = _timeout_field()
    project = forms.TypedChoiceField(
        label="Project",
        coerce=int,
        required=False,
        error_messages={"invalid_choice": "You may not add sites to that project."},
    )

    def __init__(
        self, *args, user: AbstractBaseUser, initial_project: Project | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        editable = Project.objects.filter(pk__in=editable_project_ids(user=user))
        self.fields["project"].choices = [(p.pk, p.name) for p in editable.order_by("name", "id")]
        self.can_add = bool(self.fields["project"].choices)
        ids = {pk for pk, _ in self.fields["project"].choices}
        # Without a choice to make, the site goes to the personal project; the
        # field still shows when the dashboard is narrowed to another project.
        elsewhere = initial_project is not None and initial_project.pk not in ids
        self.offers_projects = len(ids) > 1 or elsewhere
        if initial_project is not None and initial_project.pk in ids:
            self.initial["project"] = initial_project.pk
        else:
            personal = personal_project_ensure(user=user)
            self.initial["project"] = personal.pk if personal.pk in ids else None

    def clean_project(self) -> Project:
        chosen = self.cleaned_data.get("project") or self.initial.get("project")
        if chosen is None:
            raise ValidationError("You may not add sites to any project.")
        # The choices are the editable projects, so a chosen id is one of them.
        return Project.objects.get(pk=chosen)

    def save(self, **audit) -> Site | None:
        """Create the site through sites.services, or attach its errors to the form."""
        try:
            return site_create(**self.cleaned_data, **audit)
        except ValidationError as exc:
            self._add_service_errors(exc)
            return None


class SiteEditForm(_ServiceErrorsMixin, forms.Form):
    """Change what a user may change of a site; its URL is its identity and stays."""

    name = _name_field()
    interval = _interval_field()
    timeout = _timeout_field()

    def __init__(self, *args, site: Site, **kwargs) -> None:
        kwargs.setdefault(
            "initial", {"name": site.name, "interval": site.interval, "timeout": site.timeout}
        )
        super().__init__(*args, **kwargs)
        self.site = site

    def save(self, **audit) -> Site | None:
        """Update the site through sites.services, or attach its errors to the form."""
        try:
            return site_update(site=self.site, **self.cleaned_data, **audit)
        except ValidationError as exc:
            self.site.refresh_from_db()  # the page shows the site as stored, not as typed
            self._add_service_errors(exc)
            return None


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
