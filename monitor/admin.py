"""Admin for status changes and rollups: read-only records of what happened.

Checks have no admin of their own: Django 5.2's admin refuses models with a
composite primary key. A site's admin page shows its recent checks.

Delete stays allowed (to superusers, by the usual permissions). Deleting a
site takes its checks and transitions with it whatever these permissions say
(sites.services.site_delete, in SQL).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from monitor.location_services import (
    location_name_clean,
    location_named_by_checks,
    location_rotate_token,
    probe_command,
)
from monitor.locations import DEFAULT, counts
from monitor.maintenance import sites_errors
from monitor.models import (
    CheckRollup,
    ConnectivityIncident,
    Location,
    MaintenanceWindow,
    Transition,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows are written by monitor.recording and notifications only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    list_display = (
        "site",
        "from_status",
        "to_status",
        "created_at",
        "notification_status",
        "notified_at",
        "notify_attempts",
    )
    list_filter = ("to_status", "notification_status", "site")
    date_hierarchy = "created_at"
    list_select_related = ("site",)
    raw_id_fields = ("site",)


@admin.register(CheckRollup)
class CheckRollupAdmin(ReadOnlyAdmin):
    list_display = (
        "site",
        "period",
        "bucket_start",
        "checks",
        "failures",
        "rt_min",
        "rt_avg",
        "p95_ms",
        "rt_max",
    )
    list_filter = ("period", "site")
    date_hierarchy = "bucket_start"
    list_select_related = ("site",)
    raw_id_fields = ("site",)
    show_full_result_count = False


@admin.register(ConnectivityIncident)
class ConnectivityIncidentAdmin(ReadOnlyAdmin):
    """When Uptime could not reach most of its sites at once (monitor.connectivity)."""

    list_display = (
        "started_at",
        "is_open",
        "sites_unreachable",
        "sites_checked",
        "recovered_at",
        "ended_at",
        "sites_still_down",
        "opened_notice",
        "ended_notice",
    )
    list_filter = ("is_open",)


class MaintenanceWindowForm(forms.ModelForm):
    """The sites must be of the window's project (the M2M is set after the model's clean)."""

    class Meta:
        model = MaintenanceWindow
        fields = (
            "project",
            "title",
            "description",
            "starts_at",
            "ends_at",
            "rrule",
            "timezone",
            "sites",
            "created_by",
        )

    def clean(self) -> dict:
        data = super().clean()
        project, sites = data.get("project"), data.get("sites")
        if project is not None and sites:
            for field, messages in sites_errors(project, sites).items():
                self.add_error(field, messages)
        return data


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    """Windows are edited here, in the API or on the project's maintenance page."""

    form = MaintenanceWindowForm
    list_display = ("title", "project", "starts_at", "ends_at", "rrule", "timezone", "ends_by")
    list_filter = ("project",)
    search_fields = ("title",)
    raw_id_fields = ("project", "created_by")
    filter_horizontal = ("sites",)
    list_select_related = ("project",)


class LocationForm(forms.ModelForm):
    class Meta:
        model = Location
        fields = ("name", "label", "enabled")

    def clean_name(self) -> str:
        try:
            return location_name_clean(self.cleaned_data["name"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["name"]) from None


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    """Its heartbeat and token version are the probe's and the rotation's to write."""

    form = LocationForm
    list_display = ("name", "label", "enabled", "live", "last_seen_at", "hostname")
    readonly_fields = ("token_version", "last_seen_at", "hostname", "network_down_since")
    actions = ("rotate_token",)

    def get_readonly_fields(self, request: HttpRequest, obj: Location | None = None):
        # The name is its queue's: a probe started with the old one would be orphaned.
        return ("name", *self.readonly_fields) if obj is not None else self.readonly_fields

    @admin.display(description="Live", boolean=True)
    def live(self, location: Location) -> bool:
        return counts(location) and location.network_down_since is None

    def has_delete_permission(self, request: HttpRequest, obj: Location | None = None) -> bool:
        # Checks name their location without a constraint: one named by checks is disabled.
        if obj is not None and (obj.name == DEFAULT or location_named_by_checks(obj.pk)):
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Rotate the token (the old one stops working)")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Location]) -> None:
        for location in queryset:
            token = location_rotate_token(location=location)
            messages.warning(
                request, f"{location.name}: new token, shown once: {probe_command(location, token)}"
            )
