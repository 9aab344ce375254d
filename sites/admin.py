"""Admin for sites: edits go through sites.services, like the API and the commands."""

from contextlib import suppress

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from monitor.checking import check_sites
from sites.models import Site
from sites.services import EDITABLE_FIELDS, site_create, site_delete, site_update

RECENT_CHECKS = 10
STATUS_COLOURS = {
    Site.Status.UP: "#2e7d32",
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
    "created_at",
)


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ("project", "url", "name", "interval", "timeout", "enabled")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # site_update has no URL: a different URL is a different site and history.
            # Disabled rather than read-only, so Site.clean()'s URL errors (say, an
            # address refused since it was added) still have a field to show on.
            self.fields["url"].disabled = True
            self.fields["url"].help_text = "To monitor another URL, add a new site."
            self.fields["project"].disabled = True


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteForm
    list_display = (
        "url",
        "name",
        "project",
        "coloured_status",
        "enabled",
        "interval",
        "last_checked_at",
        "response_time",
        "reason",
    )
    list_filter = ("status", "enabled", "project")
    search_fields = ("url", "name")
    actions = ("check_now", "enable", "disable")
    fieldsets = (
        (None, {"fields": ("project", "url", "name", "interval", "timeout", "enabled")}),
        ("State (written by the monitor)", {"fields": STATE_FIELDS}),
        ("Checks", {"fields": ("recent_checks",)}),
    )
    readonly_fields = (*STATE_FIELDS, "recent_checks")

    def get_fieldsets(self, request: HttpRequest, obj: Site | None = None):
        return self.fieldsets if obj is not None else self.fieldsets[:1]

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
        checks = site.checks.all()[:RECENT_CHECKS]
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
        link = (
            reverse("admin:monitor_check_changelist")
            + "?"
            + urlencode({"site__id__exact": site.id})
        )
        return format_html(
            "<table><tr><th>Checked at</th><th>Result</th><th>Status</th><th>Time</th>"
            '<th>Reason</th></tr>{}</table><p><a href="{}">All checks of this site</a></p>',
            rows or format_html('<tr><td colspan="5">{}</td></tr>', "No checks yet."),
            link,
        )

    def save_model(self, request: HttpRequest, obj: Site, form, change: bool) -> None:
        # The form has already run full_clean(); the services run it again and own the
        # rules beyond it (a new or re-enabled site is due now; only editable columns
        # are saved, so a check recorded meanwhile is not overwritten).
        if change:
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE_FIELDS}
            if changes:
                fresh = Site.objects.get(pk=obj.pk)
                obj.next_check_at = site_update(site=fresh, **changes).next_check_at
        else:
            fields = ("project", "url", *EDITABLE_FIELDS)
            values = {f: form.cleaned_data[f] for f in fields if f in form.cleaned_data}
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

    @admin.action(description="Enable (and check soon)", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Site], *, enabled: bool):
        done = 0
        for site in queryset.exclude(enabled=enabled):
            try:
                site_update(site=site, enabled=enabled)
            except ValidationError as exc:
                # e.g. a site added before private addresses were refused.
                self.message_user(request, f"{site.url}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                done += 1
        verb = "Enabled" if enabled else "Disabled"
        self.message_user(request, f"{verb} {done} site(s).", messages.SUCCESS)
