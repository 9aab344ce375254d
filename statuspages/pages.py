"""A project's status pages in the dashboard: list, add, edit, delete, and their incidents.

Thin views over statuspages.selectors and statuspages.services, like the
channel pages: every member reads, editors and up write (403 otherwise),
another project's page answers 404.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from sites.models import Site
from sites.selectors import site_list
from sites.views import audit_of, dashboard_login_required
from statuspages.forms import (
    IncidentEditForm,
    IncidentForm,
    IncidentUpdateForm,
    StatusPageForm,
    show_errors,
)
from statuspages.models import StatusIncident, StatusPage
from statuspages.selectors import (
    domain_url,
    incident_get,
    incident_list,
    public_url,
    status_page_get,
    status_page_list,
    with_layout,
)
from statuspages.services import (
    incident_create,
    incident_delete,
    incident_update,
    incident_update_add,
    status_page_create,
    status_page_delete,
    status_page_logo_clear,
    status_page_logo_set,
    status_page_update,
)
from teams.access import Action, can, require
from teams.models import Project
from teams.pages import project_or_404


def _page_or_404(request: HttpRequest, pk: int, page_id: int, action: Action) -> StatusPage:
    try:
        page = status_page_get(user=request.user, page_id=page_id, action=action)
    except StatusPage.DoesNotExist:
        raise Http404("No such status page.") from None
    if page.project_id != pk:
        raise Http404("No such status page.")
    return page


def _incident_or_404(
    request: HttpRequest, pk: int, page_id: int, incident_id: int, action: Action
) -> StatusIncident:
    page = _page_or_404(request, pk, page_id, action)
    try:
        return incident_get(page=page, incident_id=incident_id)
    except StatusIncident.DoesNotExist:
        raise Http404("No such incident.") from None


def _project_sites(request: HttpRequest, project: Project) -> list[Site]:
    return list(site_list(user=request.user, project_id=project.pk).order_by("name", "url", "pk"))


def _shown(page: StatusPage) -> list[tuple[int, str]]:
    """(site id, name shown) of the page's monitors, in the page's order."""
    return [
        (entry.site_id, entry.display_name or entry.site.name or entry.site.url)
        for group in with_layout(StatusPage.objects.filter(pk=page.pk))[0].groups.all()
        for entry in group.monitors.all()
    ]


@require_GET
@dashboard_login_required
def project_status_pages(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_or_404(request, pk)
    pages = status_page_list(user=request.user, project_id=project.pk).annotate(
        monitor_count=Count("monitors", distinct=True),
        open_count=Count("incidents", filter=Q(incidents__resolved_at__isnull=True), distinct=True),
    )
    pages = list(pages)
    for page in pages:
        page.public_url, page.domain_url = public_url(page), domain_url(page)
    context = {
        "project": project,
        "pages": pages,
        "edits": can(user=request.user, project=project, action=Action.EDIT_MONITORS),
    }
    return render(request, "statuspages/manage/project_status_pages.html", context)


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def status_page_add(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_or_404(request, pk, action=Action.EDIT_MONITORS)
    form = StatusPageForm(
        request.POST or None, request.FILES or None, sites=_project_sites(request, project)
    )
    if request.method == "POST" and form.is_valid():
        try:
            page = status_page_create(project=project, **form.values(), **audit_of(request))
        except ValidationError as exc:
            form.show(exc)
        else:
            if form.logo_data:
                status_page_logo_set(page=page, data=form.logo_data, **audit_of(request))
            messages.success(request, f"Made {page.title}: it is public at {public_url(page)}.")
            return redirect("status_page_edit", project.pk, page.pk)
    return render(request, "statuspages/manage/status_page_edit.html", _form_context(project, form))


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def status_page_edit(request: HttpRequest, pk: int, page_id: int) -> HttpResponse:
    page = _page_or_404(request, pk, page_id, Action.READ)
    edits = can(user=request.user, project=page.project, action=Action.EDIT_MONITORS)
    if request.method == "POST":
        require(user=request.user, project=page.project, action=Action.EDIT_MONITORS)
    page = with_layout(StatusPage.objects.filter(pk=page.pk).select_related("project"))[0]
    form = StatusPageForm(
        request.POST or None,
        request.FILES or None,
        sites=_project_sites(request, page.project),
        page=page,
    )
    if request.method == "POST" and form.is_valid():
        try:
            status_page_update(page=page, **form.values(), **audit_of(request))
        except ValidationError as exc:
            form.show(exc)
        except StatusPage.DoesNotExist:
            raise Http404("No such status page.") from None
        else:
            if form.logo_data:
                status_page_logo_set(page=page, data=form.logo_data, **audit_of(request))
            elif form.cleaned_data.get("remove_logo"):
                status_page_logo_clear(page=page, **audit_of(request))
            messages.success(request, f"Saved {page.title}.")
            return redirect("status_page_edit", pk, page.pk)
    context = {**_form_context(page.project, form), "page": page, "edits": edits}
    context["public_url"], context["domain_url"] = public_url(page), domain_url(page)
    return render(request, "statuspages/manage/status_page_edit.html", context)


def _form_context(project: Project, form: StatusPageForm) -> dict:
    return {"project": project, "form": form, "edits": True}


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def status_page_delete_page(request: HttpRequest, pk: int, page_id: int) -> HttpResponse:
    page = _page_or_404(request, pk, page_id, Action.EDIT_MONITORS)
    if request.method == "GET":
        context = {"project": page.project, "page": page, "public_url": public_url(page)}
        return render(request, "statuspages/manage/status_page_confirm_delete.html", context)
    try:
        status_page_delete(page=page, **audit_of(request))
    except StatusPage.DoesNotExist:
        raise Http404("No such status page.") from None
    messages.success(request, f"Deleted {page.title}.")
    return redirect("project_status_pages", pk)


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def status_incidents(request: HttpRequest, pk: int, page_id: int) -> HttpResponse:
    """The page's incidents and announcements; editors write new ones here."""
    page = _page_or_404(request, pk, page_id, Action.READ)
    edits = can(user=request.user, project=page.project, action=Action.EDIT_MONITORS)
    if request.method == "POST":
        require(user=request.user, project=page.project, action=Action.EDIT_MONITORS)
    form = IncidentForm(request.POST or None, shown=_shown(page))
    if request.method == "POST" and form.is_valid():
        try:
            incident = incident_create(page=page, **form.values(), **audit_of(request))
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, f"Published {incident.title}.")
            return redirect("status_incident", pk, page.pk, incident.pk)
    incidents = list(incident_list(page=page))
    for incident in incidents:
        incident.latest_update = ([None, *incident.updates.all()])[-1]
    context = {
        "project": page.project,
        "page": page,
        "incidents": incidents,
        "form": form,
        "edits": edits,
        "public_url": public_url(page),
    }
    return render(request, "statuspages/manage/status_incidents.html", context)


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def status_incident(request: HttpRequest, pk: int, page_id: int, incident_id: int) -> HttpResponse:
    """One incident: its updates, a form for the next one, and corrections.

    POST with `update` adds an update ("Resolve" is an update with status
    resolved); POST with `edit` corrects the title, kind, impact or monitors.
    """
    incident = _incident_or_404(request, pk, page_id, incident_id, Action.READ)
    page = incident.page
    edits = can(user=request.user, project=page.project, action=Action.EDIT_MONITORS)
    shown = _shown(page)
    initial = {
        "kind": incident.kind,
        "title": incident.title,
        "impact": incident.impact,
        "sites": [str(site.pk) for site in incident.sites.all()],
    }
    update_form = IncidentUpdateForm(None)
    edit_form = IncidentEditForm(None, shown=shown, initial=initial)
    if request.method == "POST":
        require(user=request.user, project=page.project, action=Action.EDIT_MONITORS)
        if "edit" in request.POST:
            edit_form = IncidentEditForm(request.POST, shown=shown)
            if edit_form.is_valid() and _saved(
                edit_form, incident_update, incident=incident, **audit_of(request)
            ):
                messages.success(request, f"Saved {incident.title}.")
                return redirect("status_incident", pk, page.pk, incident.pk)
        else:
            update_form = IncidentUpdateForm(request.POST)
            if update_form.is_valid() and _saved(
                update_form,
                incident_update_add,
                incident=incident,
                values=update_form.cleaned_data,
                **audit_of(request),
            ):
                messages.success(request, f"Posted an update to {incident.title}.")
                return redirect("status_incident", pk, page.pk, incident.pk)
    context = {
        "project": page.project,
        "page": page,
        "incident": incident,
        "updates": list(incident.updates.all()),
        "update_form": update_form,
        "edit_form": edit_form,
        "edits": edits,
    }
    return render(request, "statuspages/manage/status_incident.html", context)


def _saved(form, write, *, values: dict | None = None, **keywords) -> bool:
    """Call the service with the form's values; its errors go onto the form."""
    try:
        write(**(values if values is not None else form.values()), **keywords)
    except ValidationError as exc:
        show_errors(form, exc)
        return False
    except StatusIncident.DoesNotExist:
        raise Http404("No such incident.") from None
    return True


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def status_incident_delete(
    request: HttpRequest, pk: int, page_id: int, incident_id: int
) -> HttpResponse:
    incident = _incident_or_404(request, pk, page_id, incident_id, Action.EDIT_MONITORS)
    page = incident.page
    if request.method == "GET":
        context = {"project": page.project, "page": page, "incident": incident}
        return render(request, "statuspages/manage/status_incident_confirm_delete.html", context)
    try:
        incident_delete(incident=incident, **audit_of(request))
    except StatusIncident.DoesNotExist:
        raise Http404("No such incident.") from None
    messages.success(request, f"Deleted {incident.title}.")
    return redirect("status_incidents", pk, page.pk)
