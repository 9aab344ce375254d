"""The project's maintenance page: its windows (current, upcoming, past) and a form for them.

Thin views over monitor.maintenance; every member reads, editors and up
write (403 otherwise), another project answers 404. Times in the form are
the window's own time zone's wall clock.
"""

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from monitor.maintenance import (
    Period,
    current_or_next,
    maintenance_create,
    maintenance_delete,
    maintenance_update,
    window_get,
    window_list,
)
from monitor.models import MaintenanceWindow
from sites.views import audit_of, dashboard_login_required
from teams.access import Action, can, require
from teams.models import Project
from teams.pages import project_or_404
from uptime.timezones import zone_names, zone_of

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
PAST_SHOWN = 20


class MaintenanceForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    description = forms.CharField(
        label="Description", required=False, max_length=2000, widget=forms.Textarea({"rows": 2})
    )
    starts_at = forms.DateTimeField(
        label="Starts",
        input_formats=[LOCAL_FORMAT],
        widget=forms.DateTimeInput({"type": "datetime-local"}, format=LOCAL_FORMAT),
    )
    ends_at = forms.DateTimeField(
        label="Ends",
        input_formats=[LOCAL_FORMAT],
        widget=forms.DateTimeInput({"type": "datetime-local"}, format=LOCAL_FORMAT),
    )
    timezone = forms.ChoiceField(label="Time zone", initial="UTC")
    rrule = forms.CharField(
        label="Repeat (RRULE)",
        required=False,
        max_length=500,
        help_text="Empty: once. E.g. FREQ=WEEKLY;BYDAY=SU or FREQ=MONTHLY;BYDAY=1SA.",
    )
    sites = forms.ModelMultipleChoiceField(
        label="Sites",
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: the whole project, sites added later included.",
    )

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sites"].queryset = project.sites.order_by("name", "url")
        self.fields["timezone"].choices = [(name, name) for name in zone_names()]

    @classmethod
    def of(cls, window: MaintenanceWindow) -> "MaintenanceForm":
        zone = zone_of(window.timezone)
        return cls(
            project=window.project,
            initial={
                "title": window.title,
                "description": window.description,
                "starts_at": window.starts_at.astimezone(zone).strftime(LOCAL_FORMAT),
                "ends_at": window.ends_at.astimezone(zone).strftime(LOCAL_FORMAT),
                "timezone": window.timezone,
                "rrule": window.rrule,
                "sites": list(window.sites.all()),
            },
        )

    def values(self) -> dict:
        """monitor.maintenance's keywords; the typed times read in the chosen zone."""
        data = dict(self.cleaned_data)
        zone = zone_of(data["timezone"])
        for field in ("starts_at", "ends_at"):
            data[field] = timezone.make_naive(data[field]).replace(tzinfo=zone)
        data["sites"] = list(data["sites"])
        return data

    def show(self, exc: ValidationError) -> None:
        for field, errors in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, errors)


@dataclass
class Row:
    window: MaintenanceWindow
    period: Period | None

    @property
    def sites(self) -> list:
        return list(self.window.sites.all())


def _window_or_404(
    request: HttpRequest, pk: int, window_id: int, action: Action
) -> MaintenanceWindow:
    try:
        window = window_get(user=request.user, window_id=window_id, action=action)
    except MaintenanceWindow.DoesNotExist:
        raise Http404("No such maintenance window.") from None
    if window.project_id != pk:
        raise Http404("No such maintenance window.")
    return window


def _sections(project: Project, now: datetime) -> dict[str, list[Row]]:
    rows = [Row(w, current_or_next(w, now)) for w in window_list(project=project)]
    past = [row for row in rows if row.period is None]
    past.sort(key=lambda row: row.window.ends_by, reverse=True)
    return {
        "current": [row for row in rows if row.period and row.period[0] <= now],
        "upcoming": sorted(
            (row for row in rows if row.period and row.period[0] > now),
            key=lambda row: row.period[0],
        ),
        "past": past[:PAST_SHOWN],
    }


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def project_maintenance(request: HttpRequest, pk: int) -> HttpResponse:
    """Every member sees the windows; editors and above add them here."""
    project = project_or_404(request, pk)
    form = MaintenanceForm(request.POST or None, project=project)
    if request.method == "POST":
        require(user=request.user, project=project, action=Action.EDIT_MONITORS)
        if form.is_valid():
            try:
                window = maintenance_create(project=project, **form.values(), **audit_of(request))
            except ValidationError as exc:
                form.show(exc)
            else:
                messages.success(request, f"Planned {window.title}.")
                return redirect("project_maintenance", project.pk)
    context = {
        "project": project,
        "form": form,
        "edits": can(user=request.user, project=project, action=Action.EDIT_MONITORS),
        "manages": can(user=request.user, project=project, action=Action.MANAGE_PROJECT),
        **_sections(project, timezone.now()),
    }
    return render(request, "maintenance/project_maintenance.html", context)


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def maintenance_edit(request: HttpRequest, pk: int, window_id: int) -> HttpResponse:
    window = _window_or_404(request, pk, window_id, Action.EDIT_MONITORS)
    form = MaintenanceForm.of(window)
    if request.method == "POST":
        form = MaintenanceForm(request.POST, project=window.project)
        if form.is_valid():
            try:
                maintenance_update(window=window, **form.values(), **audit_of(request))
            except ValidationError as exc:
                form.show(exc)
            else:
                messages.success(request, f"Saved {window.title}.")
                return redirect("project_maintenance", pk)
    context = {"project": window.project, "window": window, "form": form}
    return render(request, "maintenance/maintenance_edit.html", context)


@require_POST
@dashboard_login_required
def maintenance_delete_page(request: HttpRequest, pk: int, window_id: int) -> HttpResponse:
    window = _window_or_404(request, pk, window_id, Action.EDIT_MONITORS)
    maintenance_delete(window=window, **audit_of(request))
    messages.success(request, f"Deleted {window.title}.")
    return redirect("project_maintenance", pk)
