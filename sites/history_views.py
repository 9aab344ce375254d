"""The monitor page's history: uptime, the response-time chart, the 90-day bar, incidents.

Kept out of the part of the page htmx polls every few seconds (sites.views
site_detail_part): the chart and the bar are refreshed on their own, slower
triggers, and the incident list with its note form only on a page load.
"""

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from monitor.incidents import incident_get, note_add
from monitor.models import Transition
from sites.history import chart_context, history_context, incidents_context, uptime_context
from sites.models import Site
from sites.views import _site_detail_context, _site_or_404, dashboard_login_required
from teams.access import Action, can


def _page_number(raw: str | None) -> int:
    try:
        page = int(raw or 1)
    except ValueError:
        return 1
    return min(max(page, 1), 10_000)


@require_GET
@never_cache
@dashboard_login_required
def site_uptime_part(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk)
    return render(request, "sites/_uptime.html", {"site": site, **uptime_context(site)})


@require_GET
@never_cache
@dashboard_login_required
def site_chart_part(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk)
    by = request.GET.get("by")
    context = {"site": site, **chart_context(site, request.GET.get("range"), by)}
    return render(request, "sites/_chart.html", context)


@require_GET
@dashboard_login_required
def site_incidents(request: HttpRequest, pk: int) -> HttpResponse:
    """Every incident, a page at a time (the monitor page shows the latest)."""
    site = _site_or_404(request, pk)
    context = {
        "site": site,
        "can_edit": _can_edit(request, site),
        **incidents_context(site, page=_page_number(request.GET.get("page"))),
    }
    return render(request, "sites/site_incidents.html", context)


@require_POST
@dashboard_login_required
def incident_note_add(request: HttpRequest, pk: int, transition_id: int) -> HttpResponse:
    site = _site_or_404(request, pk, action=Action.EDIT_MONITORS)
    try:
        transition = incident_get(site, transition_id)
        note_add(
            site=site,
            transition=transition,
            author=request.user,
            text=request.POST.get("text", ""),
        )
    except Transition.DoesNotExist:
        raise Http404("No such incident.") from None
    except ValidationError as error:
        # The page again, with the error beside the note's field, as a 400.
        context = {
            **_site_detail_context(request, site),
            **history_context(site, range_key=request.GET.get("range")),
            "note_error_for": transition.pk,
            "note_errors": error.message_dict.get("text", []),
            "note_text": request.POST.get("text", ""),
        }
        return render(request, "sites/site_detail.html", context, status=400)
    return redirect(f"{reverse('site_detail', args=[site.pk])}#incident-{transition.pk}")


def _can_edit(request: HttpRequest, site: Site) -> bool:
    return can(user=request.user, project=site.project_id, action=Action.EDIT_MONITORS)
