"""Public badges: /badge/<badge_key>/… as SVG, or as shields.io endpoint JSON.

No login: the unguessable Site.badge_key is the permission, never the id.
Nothing here reads the session, so no cookie is set; answers may be cached
for a minute (by GitHub's image proxy, for one).
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from monitor import badges
from monitor.availability import PERIODS, uptime_many
from monitor.badges import Badge
from monitor.maintenance import in_maintenance
from monitor.models import CheckRollup
from sites.models import Site

CACHE_SECONDS = 60
# An SVG opened on its own is a document: no script, no fetch, no form.
SVG_CSP = "default-src 'none'; sandbox"
RESPONSE_HOURS = 24
KEY_MAX_LENGTH = Site._meta.get_field("badge_key").max_length


class BadInput(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


# --- What each badge says about a site ----------------------------------------------


def _or(label: str | None, default: str) -> str:
    return default if label is None else label


def _status(site: Site, label: str | None, now: datetime) -> Badge:
    maintained = site.enabled and site.pk in in_maintenance([site.pk], now)
    status = site.display_status(in_maintenance=maintained)
    return badges.status_badge(status, label=_or(label, "status"))


def _uptime(site: Site, label: str | None, now: datetime, period: str) -> Badge:
    if period not in PERIODS:
        raise BadInput("period", f"must be one of {', '.join(PERIODS)}")
    label = _or(label, f"uptime {period}")
    percent = uptime_many([site.pk], {period: PERIODS[period]}, now=now)[site.pk][period]
    return badges.uptime_badge(percent, label=label)


def average_response_ms(site_id: int, now: datetime) -> float | None:
    """The mean response time over the current hour and the 23 before (hourly rollups)."""
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=RESPONSE_HOURS - 1)
    totals = CheckRollup.objects.filter(
        site_id=site_id, period=CheckRollup.Period.HOUR, bucket_start__gte=since
    ).aggregate(total=Sum("rt_sum"), count=Sum("rt_count"))
    return totals["total"] / totals["count"] if totals["count"] else None


def _response(site: Site, label: str | None, now: datetime) -> Badge:
    label = _or(label, "response 24h")
    return badges.response_badge(average_response_ms(site.pk, now), label=label)


BADGES: dict[str, Callable[..., Badge]] = {
    "status": _status,
    "uptime": _uptime,
    "response": _response,
}


# --- Answers ----------------------------------------------------------------------------


def _svg(badge: Badge, status: int = 200) -> HttpResponse:
    response = HttpResponse(
        badges.render_svg(badge), content_type="image/svg+xml; charset=utf-8", status=status
    )
    response["Content-Security-Policy"] = SVG_CSP
    return _common(response)


def _json(badge: Badge, status: int = 200) -> JsonResponse:
    body = badges.endpoint_json(badge, is_error=status != 200)
    # Public data, read by shields.io's servers and by anyone's page scripts.
    response = JsonResponse(body, status=status)
    response["Access-Control-Allow-Origin"] = "*"
    return _common(response)


def _common(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = f"max-age={CACHE_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _site_for_key(key: str) -> Site | None:
    if len(key) > KEY_MAX_LENGTH:
        return None
    return Site.objects.filter(badge_key=key).only("id", "project_id", "status", "enabled").first()


def _answer(request: HttpRequest, key: str, which: str, fmt: str, **kwargs) -> HttpResponse:
    render = _svg if fmt == "svg" else _json
    site = _site_for_key(key)
    if site is None:
        return render(badges.not_found_badge(), status=404)
    raw = request.GET.get("label")
    try:
        label = None if raw is None else badges.clean_label(raw)
        badge = BADGES[which](site, label, timezone.now(), **kwargs)
    except badges.LabelError as exc:
        return render(badges.error_badge("label", str(exc)), status=400)
    except BadInput as exc:
        return render(badges.error_badge(exc.field, exc.reason), status=400)
    return render(badge)


@require_safe
def status_svg(request: HttpRequest, key: str) -> HttpResponse:
    return _answer(request, key, "status", "svg")


@require_safe
def uptime_svg(request: HttpRequest, key: str, period: str) -> HttpResponse:
    return _answer(request, key, "uptime", "svg", period=period)


@require_safe
def response_svg(request: HttpRequest, key: str) -> HttpResponse:
    return _answer(request, key, "response", "svg")


@require_safe
def status_json(request: HttpRequest, key: str) -> HttpResponse:
    return _answer(request, key, "status", "json")


@require_safe
def uptime_json(request: HttpRequest, key: str, period: str) -> HttpResponse:
    return _answer(request, key, "uptime", "json", period=period)


@require_safe
def response_json(request: HttpRequest, key: str) -> HttpResponse:
    return _answer(request, key, "response", "json")
