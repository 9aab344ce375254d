"""Pages that acknowledge a down monitor: the signed link in an alert, and the site page's button.

A GET never acknowledges: mail clients and chat apps fetch links to preview
them, so the link opens a confirmation page and only its POST acts.
"""

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from monitor.models import Transition
from notifications import acks
from notifications.models import Acknowledgement
from sites.models import Site
from sites.selectors import site_get
from sites.views import dashboard_login_required
from teams.access import Action, can

TEMPLATE = "notifications/ack.html"
BAD_LINK = "This acknowledgement link is not valid: it may have been cut short or altered."
EXPIRED_LINK = "This acknowledgement link has expired (links work for 7 days)."


@require_http_methods(["GET", "POST"])
@never_cache
@dashboard_login_required
def ack_link(request: HttpRequest, token: str) -> HttpResponse:
    """/ack/<token>: GET shows what would be acknowledged, POST acknowledges it."""
    try:
        transition_id = acks.transition_id_from_link(token)
    except signing.SignatureExpired:
        return render(request, TEMPLATE, {"link_error": EXPIRED_LINK}, status=400)
    except signing.BadSignature:
        return render(request, TEMPLATE, {"link_error": BAD_LINK}, status=400)
    incident = Transition.objects.filter(pk=transition_id, to_status=Site.Status.DOWN).first()
    site = _visible_site(request, incident.site_id if incident else None)
    context = _page_context(request, site, incident)
    if request.method == "GET":
        return render(request, TEMPLATE, context)
    try:
        acks.acknowledge(
            site=site,
            actor=request.user,
            via=Acknowledgement.Via.LINK,
            incident=incident,
            request=request,
        )
    except ValidationError as exc:
        return render(request, TEMPLATE, {**context, "error": exc.messages[0]}, status=409)
    messages.success(request, f"Acknowledged: {site} is down and you are on it.")
    return redirect("site_detail", site.pk)


@require_POST
@dashboard_login_required
def site_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """The site page's Acknowledge button."""
    site = _visible_site(request, pk)
    try:
        acks.acknowledge(
            site=site, actor=request.user, via=Acknowledgement.Via.PAGE, request=request
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"Acknowledged: reminders about {site} stop.")
    return redirect("site_detail", site.pk)


def _visible_site(request: HttpRequest, site_id: int | None) -> Site:
    # Another project's site (or incident) does not exist for this user: 404.
    if site_id is None:
        raise Http404("No such incident.")
    try:
        return site_get(user=request.user, site_id=site_id)
    except Site.DoesNotExist:
        raise Http404("No such incident.") from None


def _page_context(request: HttpRequest, site: Site, incident: Transition) -> dict:
    current = acks.current_incident(site)
    return {
        "site": site,
        "incident": incident,
        "is_current": current is not None and current.pk == incident.pk,
        "acknowledgement": Acknowledgement.objects.filter(transition=incident).first(),
        "can_acknowledge": can(
            user=request.user, project=site.project_id, action=Action.EDIT_MONITORS
        ),
    }
