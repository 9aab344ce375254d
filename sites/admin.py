"""Admin for sites: edits go through sites.services, like the API and the commands."""

from contextlib import suppress

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from monitor import kinds
from monitor.checking import check_sites
from monitor.models import Check
from sites.models import Site
from sites.services import EDITABLE_FIELDS, site_create, site_delete, site_update

RECENT_CHECKS = 10
STATUS_COLOURS = {
    Site.Status.UP: "#2e7d32",
    Site.Status.DEGRADED: "#b26a00",
    Site.Status.DOWN: "#c62828",
    Site.Status.UNKNOWN: "#757575",
}
STATE_FIELDS = (
    "status",
    "status_changed_at",
    "last_checked_at",
    "next_check_at",
    "last_status_code",
    "last_response_ms",
    "last_error_kind",
    "last_error_message",
    "failures_in_a_row",
    "successes_in_a_row",
    "cert_expires_at",
    "ping_url",
    "created_at",
)


def _secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: never shown. Empty keeps the stored one.",
    )


class SiteForm(forms.ModelForm):
    """A monitor of any kind: its options as JSON in the API's names, secrets write-only.

    `options` shows what the site stores there, which never holds a secret
    (monitor.kinds keeps them apart in Site.secrets); the secret fields below
    it are password inputs that are never filled in.
    """

    auth_password = _secret_field("Password (http basic auth)")
    bearer_token = _secret_field("Bearer token (http)")
    SECRET_FIELDS = {"auth_password": "authPassword", "bearer_token": "bearerToken"}

    class Meta:
        model = Site
        fields = (
            "project",
            "kind",
            "url",
            "name",
            "interval",
            "timeout",
            "enabled",
            "failure_threshold",
            "success_threshold",
            "retry_interval",
            "depends_on",
            "options",
        )
        help_texts = {
            "url": "http monitors: the URL. Other kinds build their target from the options.",
            "options": 'The kind\'s options in the API\'s names, e.g. {"host": "db.example.com", '
            '"port": 5432} for tcp. Keys left out take the kind\'s default.',
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        site = self.instance
        if site.pk is not None:
            # site_update has no URL or kind: another target is another site and history.
            # Disabled rather than read-only, so Site.clean()'s URL errors (say, an
            # address refused since it was added) still have a field to show on.
            self.fields["url"].disabled = True
            self.fields["url"].help_text = "To monitor another target, add a new site."
            self.fields["project"].disabled = True
            self.fields["kind"].disabled = True
            self.initial["options"] = {k: v for k, v in site.options.items() if k != "url"}
            self.fields["depends_on"].queryset = Site.objects.filter(
                project_id=site.project_id
            ).exclude(pk=site.pk)
        self.fields["options"].required = False
        self.fields["url"].required = False

    def clean_options(self) -> dict:
        value = self.cleaned_data.get("options")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValidationError('An object, like {"host": "db.example.com", "port": 5432}.')
        return value

    def clean(self) -> dict:
        data = super().clean()
        # Handed to Site.clean() through the instance, as the services would.
        self.instance.secrets = {**self.instance.secrets, **self.given_secrets()}
        return data

    def given_secrets(self) -> dict:
        return {
            option: self.cleaned_data[name]
            for name, option in self.SECRET_FIELDS.items()
            if self.cleaned_data.get(name)
        }

    def kind_options(self) -> dict:
        """The options to save: the kind's defaults for keys left out, then the secrets given."""
        kind = self.cleaned_data.get("kind") or self.instance.kind
        module = kinds.get(kind)
        defaults = {k: v for k, v in module.OPTIONS.items() if k not in module.SECRETS}
        defaults.pop("url", None)
        return {**defaults, **self.cleaned_data["options"], **self.given_secrets()}

    def _update_errors(self, errors: ValidationError) -> None:
        # Site.clean() names options by their API name ("port"); the admin has
        # one JSON field for them all.
        if not hasattr(errors, "error_dict"):
            super()._update_errors(errors)
            return
        moved: dict[str, list] = {}
        for key, texts in errors.message_dict.items():
            secret = next((n for n, o in self.SECRET_FIELDS.items() if o == key), None)
            if key in self.fields or key == NON_FIELD_ERRORS:
                moved.setdefault(key, []).extend(texts)
            elif secret:
                moved.setdefault(secret, []).extend(texts)
            else:
                moved.setdefault("options", []).extend(f"{key}: {text}" for text in texts)
        super()._update_errors(ValidationError(moved))


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteForm
    list_display = (
        "url",
        "name",
        "kind",
        "project",
        "coloured_status",
        "paused",
        "interval",
        "last_checked_at",
        "response_time",
        "reason",
    )
    list_filter = ("kind", "status", "enabled", "project")
    search_fields = ("url", "name")
    actions = ("check_now", "resume", "pause")
    fieldsets = (
        (
            None,
            {"fields": ("project", "kind", "url", "name", "interval", "timeout", "enabled")},
        ),
        ("Options", {"fields": ("options", "auth_password", "bearer_token")}),
        (
            "Confirmation and dependency",
            {"fields": ("failure_threshold", "success_threshold", "retry_interval", "depends_on")},
        ),
        ("State (written by the monitor)", {"fields": STATE_FIELDS}),
        ("Checks", {"fields": ("recent_checks",)}),
    )
    readonly_fields = (*STATE_FIELDS, "recent_checks")

    def get_fieldsets(self, request: HttpRequest, obj: Site | None = None):
        return self.fieldsets if obj is not None else self.fieldsets[:3]

    @admin.display(description="Paused", boolean=True, ordering="enabled")
    def paused(self, site: Site) -> bool:
        return site.paused

    @admin.display(description="Ping URL")
    def ping_url(self, site: Site) -> str:
        return site.ping_url if site.kind == "heartbeat" else "-"

    @admin.display(description="Status", ordering="status")
    def coloured_status(self, site: Site) -> str:
        return format_html(
            '<strong style="color: {}">{}</strong>',
            STATUS_COLOURS[site.status],
            site.get_status_display(),
        )

    @admin.display(description="Response time", ordering="last_response_ms")
    def response_time(self, site: Site) -> str:
        return "-" if site.last_response_ms is None else f"{site.last_response_ms} ms"

    @admin.display(description="Reason")
    def reason(self, site: Site) -> str:
        return site.reason

    @admin.display(description="Recent checks")
    def recent_checks(self, site: Site) -> str:
        checks = Check.latest_of(site.id, RECENT_CHECKS)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(c.checked_at).strftime("%Y-%m-%d %H:%M:%S"),
                    "up" if c.up else "down",
                    c.status_code or "-",
                    "-" if c.response_ms is None else f"{c.response_ms} ms",
                    c.reason,
                )
                for c in checks
            ),
        )
        return format_html(
            "<table><tr><th>Checked at</th><th>Result</th><th>Status</th><th>Time</th>"
            "<th>Reason</th></tr>{}</table>",
            rows or format_html('<tr><td colspan="5">{}</td></tr>', "No checks yet."),
        )

    def save_model(self, request: HttpRequest, obj: Site, form, change: bool) -> None:
        # The form has already run full_clean(); the services run it again and own the
        # rules beyond it (a new or re-enabled site is due now; only editable columns
        # are saved, so a check recorded meanwhile is not overwritten).
        if change:
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE_FIELDS}
            if {"options", *form.SECRET_FIELDS} & set(form.changed_data):
                changes["options"] = form.kind_options()
            if changes:
                fresh = Site.objects.get(pk=obj.pk)
                obj.next_check_at = site_update(site=fresh, **changes).next_check_at
        else:
            values = {f: form.cleaned_data[f] for f in ("project", "kind", "url", *EDITABLE_FIELDS)}
            values["options"] = form.kind_options()
            created = site_create(**values)
            obj.pk, obj.next_check_at = created.pk, created.next_check_at

    def delete_model(self, request: HttpRequest, obj: Site) -> None:
        # Deleted meanwhile (another admin, the API): what was asked is done.
        with suppress(Site.DoesNotExist):
            site_delete(site=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        for site in queryset:
            self.delete_model(request, site)

    @admin.action(description="Check now (also disabled sites)", permissions=["change"])
    def check_now(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        results = check_sites(list(queryset.values_list("id", flat=True)), include_disabled=True)
        down = sum(not r.up for r in results)
        self.message_user(
            request,
            f"Checked {len(results)} site(s): {len(results) - down} up, {down} down.",
            messages.WARNING if down else messages.SUCCESS,
        )

    @admin.action(description="Resume (and check soon)", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Site], *, enabled: bool):
        done = 0
        for site in queryset.exclude(enabled=enabled):
            try:
                site_update(site=site, enabled=enabled)
            except ValidationError as exc:
                # e.g. a site added before private addresses were refused.
                self.message_user(request, f"{site}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                done += 1
        verb = "Resumed" if enabled else "Paused"
        self.message_user(request, f"{verb} {done} site(s).", messages.SUCCESS)
