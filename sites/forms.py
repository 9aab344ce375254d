"""Dashboard forms: they translate HTML input and call the one write path.

Validation rules (each kind's options, the private-address guard, interval
and timeout limits, uniqueness, dependencies) live in monitor.kinds,
sites.models and sites.services; the form only builds the options in the
API's names (sites.kind_fields) and shows the messages next to the right field.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe

from monitor import kinds
from monitor.models import Location
from sites import kind_fields
from sites.dashboard import DEFAULT_SORT, SORTS, STATES, ListQuery
from sites.models import (
    MAX_INTERVAL,
    MAX_THRESHOLD,
    MAX_TIMEOUT,
    MIN_INTERVAL,
    Site,
    default_failure_threshold,
)
from sites.services import MAX_TAGS, site_create, site_update
from teams.models import Project
from teams.selectors import editable_project_ids
from teams.services import personal_project_ensure

# The depends-on select lists at most this many monitors (the rest by id in the API).
MAX_DEPENDENCY_CHOICES = 500


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


def _threshold_field(label: str, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_THRESHOLD}),
    )


def _retry_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Re-check after (s)",
        required=False,
        help_text="While a failure is not confirmed yet.",
        widget=forms.NumberInput(attrs={"min": MIN_INTERVAL, "max": MAX_INTERVAL}),
    )


class PlainSelect(forms.Select):
    """A select written in Python: Django renders each option through a
    template, which for the depends-on list's 500 options was half the
    dashboard's time. The same markup otherwise (optgroups included)."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        chosen = "" if value is None else str(value)
        attributes = flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name}))
        parts = [f"<select{attributes}>"]
        for group, options in self.choices:
            if isinstance(options, list | tuple):
                parts.append(f'<optgroup label="{escape(group)}">')
                parts.extend(_option(key, text, chosen) for key, text in options)
                parts.append("</optgroup>")
            else:
                parts.append(_option(group, options, chosen))
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped)


def _option(key, text, chosen: str) -> str:
    selected = " selected" if str(key) == chosen else ""
    return f'<option value="{escape(key)}"{selected}>{escape(text)}</option>'


def _depends_on_field() -> forms.IntegerField:
    # An id rather than a ChoiceField: clean_depends_on() looks it up among
    # the user's monitors, so a project with more monitors than the select
    # lists still validates; Site.clean() checks it is of the same project.
    return forms.IntegerField(
        label="Depends on",
        required=False,
        help_text="While it is down, this monitor's alerts are held back.",
        widget=PlainSelect,
    )


def _dependency_choices(sites: QuerySet[Site]) -> list:
    """("", "Nothing") then the monitors grouped by project, for the depends-on select."""
    rows = sites.order_by("project__name", "project_id", "name", "url").values_list(
        "pk", "name", "url", "kind", "project__name"
    )[:MAX_DEPENDENCY_CHOICES]
    groups: dict[str, list] = {}
    for pk, name, url, kind, project in rows:
        groups.setdefault(project, []).append((pk, f"{name or url or kind} (#{pk})"))
    return [("", "Nothing"), *groups.items()]


def _tags_field() -> forms.CharField:
    return forms.CharField(
        label="Tags",
        required=False,
        max_length=2000,
        help_text=f"Separated by commas, e.g. production, api; at most {MAX_TAGS}.",
    )


def tag_names(text: str) -> list[str]:
    """ "a, b ,, c" -> ["a", "b", "c"]; sites.services checks the names."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _location_fields() -> dict[str, forms.Field]:
    """Which locations check a monitor and how many must agree (sites.services checks them)."""
    return {
        "locations": forms.MultipleChoiceField(
            label="Checked from",
            required=False,
            help_text="None chosen: every enabled location.",
        ),
        "quorum": forms.IntegerField(
            label="Quorum",
            required=False,
            help_text="Down when this many voting locations see it down; empty: a majority.",
            widget=forms.NumberInput(attrs={"min": 1, "max": 64}),
        ),
        "notify_regional": forms.BooleanField(
            label="Alert on regional problems too",
            required=False,
            help_text="When fewer locations than the quorum see it down.",
        ),
    }


def _location_choices() -> list[tuple[str, str]]:
    enabled = Location.objects.filter(enabled=True).order_by("id")
    return [
        (loc.name, f"{loc.display_name} ({loc.name})" if loc.label else loc.name) for loc in enabled
    ]


class _MonitorFormMixin:
    """What the add and edit forms share: per-kind option fields, errors put on them."""

    CONFIRMATION = ("failure_threshold", "success_threshold", "retry_interval", "depends_on")

    def _add_option_fields(self, kind: str | None) -> None:
        specs = kind_fields.FIELDS if kind is None else kind_fields.fields_of(kind)
        for spec in specs:
            self.fields[spec.name] = spec.make()
            self.fields[spec.name].kinds_attr = " ".join(spec.kinds)
            if spec.secret and kind is not None:
                self.fields[spec.name].help_text = kind_fields.KEEP_STORED_HELP

    def clean_headers(self) -> str:
        # Parsed here too, so a malformed line is named before anything is sent.
        text = self.cleaned_data.get("headers", "")
        kind_fields.header_lines(text)
        return text

    def clean_depends_on(self) -> Site | None:
        chosen = self.cleaned_data.get("depends_on")
        if chosen is None:
            return None
        try:
            return self.dependency_candidates.get(pk=chosen)
        except Site.DoesNotExist:
            raise ValidationError("Choose one of your monitors.") from None

    def _add_service_errors(self, exc: ValidationError, kind: str) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            name = kind_fields.field_for_option(kind, key) or key
            self.add_error(name if name in self.fields else None, messages)

    def option_fields(self) -> tuple[list, list]:
        """The kind option fields as bound fields: (shown at once, under "More options")."""
        basic, advanced = [], []
        for spec in kind_fields.FIELDS:
            if spec.name in self.fields and spec.name not in self.hidden_options:
                (advanced if spec.advanced else basic).append(self[spec.name])
        return basic, advanced

    @property
    def options_open(self) -> bool:
        """Open "More options" when one of its fields has an error, so the message shows."""
        return any(s.advanced and s.name in self.errors for s in kind_fields.FIELDS)

    @property
    def confirmation_open(self) -> bool:
        return any(name in self.errors for name in self.CONFIRMATION)


class SiteForm(_MonitorFormMixin, forms.Form):
    """Add a monitor of any kind to one of the projects where the user may edit monitors.

    Every kind's fields are in the form (static JS shows the chosen kind's);
    only the chosen kind's are read.
    """

    # Not required: a form without it (an older page, a script) adds an http monitor.
    kind = forms.ChoiceField(label="Kind", choices=kinds.CHOICES, initial="http", required=False)
    name = _name_field()
    interval = _interval_field()
    timeout = _timeout_field()
    failure_threshold = _threshold_field("Failures before down", "Default: 2 in a row.")
    success_threshold = _threshold_field("Successes before up", "Default: 1.")
    retry_interval = _retry_field()
    depends_on = _depends_on_field()
    tags = _tags_field()
    project = forms.TypedChoiceField(
        label="Project",
        coerce=int,
        required=False,
        error_messages={"invalid_choice": "You may not add sites to that project."},
    )
    hidden_options = frozenset()

    def __init__(
        self, *args, user: AbstractBaseUser, initial_project: Project | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self._add_option_fields(None)
        self.fields[
            "failure_threshold"
        ].help_text = f"Default: {default_failure_threshold()} in a row."
        editable = Project.objects.filter(pk__in=editable_project_ids(user=user))
        self.fields["project"].choices = [(p.pk, p.name) for p in editable.order_by("name", "id")]
        self.can_add = bool(self.fields["project"].choices)
        ids = {pk for pk, _ in self.fields["project"].choices}
        self.dependency_candidates = Site.objects.filter(project_id__in=ids)
        self.fields["depends_on"].widget.choices = _dependency_choices(self.dependency_candidates)
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
        """Create the monitor through sites.services, or attach its errors to the form."""
        data = self.cleaned_data
        kind = data["kind"] or "http"
        shared = {
            name: data[name] for name in ("project", "name", "interval", "timeout", "depends_on")
        }
        for name in ("failure_threshold", "success_threshold", "retry_interval"):
            if data[name] is not None:
                shared[name] = data[name]
        try:
            return site_create(
                kind=kind,
                options=kind_fields.options_from(kind, data),
                tags=tag_names(data["tags"]),
                **shared,
                **audit,
            )
        except ValidationError as exc:
            self._add_service_errors(exc, kind)
            return None


class SiteEditForm(_MonitorFormMixin, forms.Form):
    """Change a monitor; its kind and an http monitor's URL are its identity and stay."""

    name = _name_field()
    interval = _interval_field()
    timeout = _timeout_field()
    failure_threshold = _threshold_field("Failures before down", "")
    success_threshold = _threshold_field("Successes before up", "")
    retry_interval = _retry_field()
    depends_on = _depends_on_field()
    tags = _tags_field()
    # The URL is the http monitor's identity: a new URL is a new monitor.
    hidden_options = frozenset({"url"})
    SHARED = (
        "name",
        "interval",
        "timeout",
        "failure_threshold",
        "success_threshold",
        "retry_interval",
    )

    def __init__(self, *args, site: Site, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {
                **{name: getattr(site, name) for name in self.SHARED},
                "depends_on": site.depends_on_id,
                "tags": ", ".join(site.tags.values_list("name", flat=True)),
                **kind_fields.form_initial(site),
            },
        )
        kwargs["initial"].setdefault(
            "locations", list(site.locations.values_list("name", flat=True))
        )
        kwargs["initial"].setdefault("quorum", site.quorum)
        kwargs["initial"].setdefault("notify_regional", site.notify_regional)
        super().__init__(*args, **kwargs)
        self.site = site
        self._add_option_fields(site.kind)
        self.fields.update(_location_fields())
        self.fields["locations"].choices = _location_choices()
        for name in ("interval", "timeout"):
            self.fields[name].required = True
        self.dependency_candidates = Site.objects.filter(project_id=site.project_id).exclude(
            pk=site.pk
        )
        self.fields["depends_on"].widget.choices = _dependency_choices(self.dependency_candidates)

    def save(self, **audit) -> Site | None:
        """Update the monitor through sites.services, or attach its errors to the form."""
        data = self.cleaned_data
        # A threshold left empty keeps its value; depends-on left empty is "nothing".
        changes = {name: data[name] for name in self.SHARED if data[name] is not None}
        changes["depends_on"] = data["depends_on"]
        changes["tags"] = tag_names(data["tags"])
        changes["locations"] = data["locations"]
        changes["quorum"] = data["quorum"]
        changes["notify_regional"] = data["notify_regional"]
        options = kind_fields.options_from(
            self.site.kind, data, keep_secrets=True, skip=self.hidden_options
        )
        if options:
            changes["options"] = options
        try:
            return site_update(site=self.site, **changes, **audit)
        except ValidationError as exc:
            self.site.refresh_from_db()  # the page shows the site as stored, not as typed
            self._add_service_errors(exc, self.site.kind)
            return None


class DashboardFilterForm(forms.Form):
    """The dashboard toolbar's GET parameters: search, state, tag, sort, group by tag.

    An unknown value is an error on its field (the page answers 400 and shows
    it); the list then shows as if the field were not given.
    """

    q = forms.CharField(label="Search", required=False, max_length=200)
    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "Any state"), *STATES.items()]
    )
    tag = forms.CharField(label="Tag", required=False, max_length=50)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=list(SORTS.items()))
    group = forms.ChoiceField(
        label="Group by tag", required=False, choices=[("", "No"), ("tag", "Yes")]
    )

    def list_query(self) -> ListQuery:
        self.is_valid()
        data = {name: value for name, value in self.cleaned_data.items() if value}
        return ListQuery(
            q=data.get("q", "").strip(),
            state=data.get("state", ""),
            tag=data.get("tag", "").strip(),
            sort=data.get("sort") or DEFAULT_SORT,
            group=data.get("group") == "tag",
        )


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
