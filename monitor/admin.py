"""Admin for status changes and rollups: read-only records of what happened.

Checks have no admin of their own: Django 5.2's admin refuses models with a
composite primary key. A site's admin page shows its recent checks.

Delete stays allowed (to superusers, by the usual permissions). Deleting a
site takes its checks and transitions with it whatever these permissions say
(sites.services.site_delete, in SQL).
"""

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from monitor.maintenance import sites_errors
from monitor.models import (
    CheckRollup,
    ConnectivityIncident,
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
