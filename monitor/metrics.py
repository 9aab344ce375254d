"""GET /metrics: monitors and the engine's health in Prometheus's exposition format.

A scrape sends an API token (`Authorization: Bearer <key>`) and sees the
monitors of the projects its user belongs to; the engine's own figures
(checks per second, lateness, queue depth, pending notifications) describe
the whole installation, so only staff users see them.

Each scrape reads a fixed number of queries, whatever the number of
monitors. The monitors' series are written by TextFamily (why there); the
engine's come from a prometheus_client collector through generate_latest on
a registry of the request's own (the global one holds the process's
metrics, not ours). Names follow
https://prometheus.io/docs/practices/naming/: base units, _seconds,
_timestamp_seconds, _ratio for 0..1, no _total on gauges.
"""

import logging
import math
from collections.abc import Iterator
from datetime import datetime, timedelta

from celery import Celery, current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Min
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from kombu.exceptions import OperationalError as BrokerError
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.api_auth import LimitedTokenAuthentication
from monitor.availability import PERIODS, uptime_many
from monitor.maintenance import active_windows
from monitor.models import Check, MaintenanceWindow, Transition
from notifications.models import Notification
from sites.models import DISPLAY_STATES, Site
from sites.selectors import site_list

log = logging.getLogger(__name__)

LABELS = ["id", "name", "project", "kind"]
STATES = [value for value, _ in Site.Status.choices] + [value for value, _ in DISPLAY_STATES]
# Uptime over 24 hours only: each longer period reads more transitions per monitor.
UPTIME_PERIOD = "24h"
# uptime_many reads its sites with `id IN (...)`: chunks keep under SQLite's
# limit of bound parameters.
UPTIME_CHUNK = 5000
CHECK_RATE_WINDOW = timedelta(seconds=60)
LATENESS_QUANTILE = 0.99
# A scrape must not hang on a broker that does not answer.
BROKER_TIMEOUT = 2


# --- Monitors ----------------------------------------------------------------------


def _maintained(projects: list[int], now: datetime) -> tuple[set[int], set[int]]:
    """(projects under a whole-project window, sites under a chosen-sites window) at `now`."""
    active = active_windows(projects, now)
    if not active:
        return set(), set()
    through = MaintenanceWindow.sites.through.objects.filter(
        maintenancewindow_id__in=[w.pk for w in active]
    )
    chosen: dict[int, set[int]] = {}
    for window_id, site_id in through.values_list("maintenancewindow_id", "site_id"):
        chosen.setdefault(window_id, set()).add(site_id)
    whole = {w.project_id for w in active if w.pk not in chosen}
    return whole, set().union(*chosen.values()) if chosen else set()


def _uptime_24h(site_ids: list[int], now: datetime) -> dict[int, float | None]:
    period = {UPTIME_PERIOD: PERIODS[UPTIME_PERIOD]}
    result: dict[int, float | None] = {}
    for start in range(0, len(site_ids), UPTIME_CHUNK):
        chunk = site_ids[start : start + UPTIME_CHUNK]
        for site_id, figures in uptime_many(chunk, period, now=now).items():
            result[site_id] = figures[UPTIME_PERIOD]
    return result


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class TextFamily:
    """A gauge family written straight in the text format, its label text built by the caller.

    prometheus_client's generate_latest escapes every label of every sample
    again (about 50 µs a series here): 10,000 monitors are 110,000 series, or
    seven seconds. Here each monitor's labels are escaped once and a line is a
    string join; the output is the same format (tests parse it back with
    prometheus_client.parser).
    """

    def __init__(self, name: str, documentation: str) -> None:
        self.name, self.documentation = name, documentation
        self.lines: list[str] = []

    def add(self, labels: str, value: float) -> None:
        self.lines.append(f"{self.name}{{{labels}}} {floatToGoString(value)}\n")

    def text(self) -> str:
        documentation = self.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        head = f"# HELP {self.name} {documentation}\n# TYPE {self.name} gauge\n"
        return head + "".join(self.lines)


def _site_rows(user: AbstractBaseUser) -> list[tuple]:
    return list(
        site_list(user=user)
        .order_by("id")
        .values_list(
            "id",
            "name",
            "url",
            "project_id",
            "project__name",
            "kind",
            "status",
            "enabled",
            "last_response_ms",
            "cert_expires_at",
            "last_checked_at",
        )
    )


def monitors_text(user: AbstractBaseUser, now: datetime) -> str:
    """One series per monitor (per state, for the state) of the user's projects."""
    rows = _site_rows(user)
    whole, chosen = _maintained(sorted({row[3] for row in rows}), now)
    uptime = _uptime_24h([row[0] for row in rows], now)
    up = TextFamily(
        "uptime_monitor_up",
        "1 if the monitor's target answers (up or degraded), 0 if down; "
        "absent while paused or not checked yet.",
    )
    state = TextFamily(
        "uptime_monitor_state",
        f"The monitor's state as shown: 1 for the current one of {', '.join(STATES)}, "
        "0 for the others.",
    )
    response = TextFamily(
        "uptime_monitor_response_seconds", "How long the last check took to answer."
    )
    checked = TextFamily(
        "uptime_monitor_last_check_timestamp_seconds",
        "When the monitor was last checked (Unix time).",
    )
    cert = TextFamily(
        "uptime_monitor_cert_expiry_timestamp_seconds",
        "When the TLS certificate the last check saw expires (Unix time).",
    )
    ratio = TextFamily(
        "uptime_monitor_uptime_ratio",
        "Time-weighted uptime over the period (maintenance and pauses left out); "
        "absent without monitored time.",
    )
    for (
        site_id,
        name,
        url,
        project_id,
        project,
        kind,
        status,
        enabled,
        response_ms,
        cert_expires_at,
        checked_at,
    ) in rows:
        labels = (
            f'id="{site_id}",kind="{_escape(kind)}",name="{_escape(name or url)}",'
            f'project="{_escape(project)}"'
        )
        shown = status
        if not enabled:
            shown = "paused"
        elif project_id in whole or site_id in chosen:
            shown = "maintenance"
        if enabled and status != Site.Status.UNKNOWN:
            up.add(labels, 0 if status == Site.Status.DOWN else 1)
        for value in STATES:
            state.add(f'{labels},state="{value}"', 1 if value == shown else 0)
        if response_ms is not None:
            response.add(labels, response_ms / 1000)
        if checked_at is not None:
            checked.add(labels, checked_at.timestamp())
        if cert_expires_at is not None:
            cert.add(labels, cert_expires_at.timestamp())
        if uptime.get(site_id) is not None:
            ratio.add(f'{labels},period="{UPTIME_PERIOD}"', uptime[site_id] / 100)
    return "".join(family.text() for family in (up, state, response, checked, cert, ratio))


# --- The engine -----------------------------------------------------------------------


def lateness_seconds(now: datetime) -> tuple[float, float, int]:
    """(max, p99, count) of how far enabled monitors are past their next check.

    Two index range reads on site_due_idx and a count: the p99 is the due time
    of the k-th most overdue monitor, k being 1 % of the enabled ones.
    """
    scheduled = Site.objects.filter(enabled=True, next_check_at__isnull=False)
    total = scheduled.count()
    if not total:
        return 0.0, 0.0, 0
    by_due = scheduled.order_by("next_check_at").values_list("next_check_at", flat=True)
    most = by_due.first()
    rank = math.ceil(total * (1 - LATENESS_QUANTILE))
    quantile = by_due[rank - 1 : rank].first()
    overdue = scheduled.filter(next_check_at__lt=now).count()

    def late(due: datetime) -> float:
        return max(0.0, (now - due).total_seconds())

    return late(most), late(quantile), overdue


def queue_length(app: Celery | None = None) -> tuple[str, int | None]:
    """(queue name, messages waiting), or None for the count when the broker does not answer.

    kombu's queue_declare counts them as the transport stores them: LLEN on
    Redis (summed over its priority lists), the message files on the
    file-system broker. Declaring an existing queue changes nothing.
    """
    app = app or current_app
    name = app.conf.task_default_queue
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
            return name, conn.default_channel.queue_declare(queue=name).message_count
    except (BrokerError, OSError) as exc:
        log.warning("metrics could not read the broker's queue: %s", exc)
        return name, None


class EngineCollector(Collector):
    def __init__(self, now: datetime) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        recent = Check.objects.filter(checked_at__gte=self.now - CHECK_RATE_WINDOW).count()
        yield GaugeMetricFamily(
            "uptime_engine_checks_per_second",
            f"Checks recorded over the last {CHECK_RATE_WINDOW.seconds} seconds, per second.",
            value=recent / CHECK_RATE_WINDOW.total_seconds(),
        )
        most, quantile, overdue = lateness_seconds(self.now)
        yield GaugeMetricFamily(
            "uptime_engine_check_lateness_max_seconds",
            "How far the most overdue enabled monitor is past its next check.",
            value=most,
        )
        yield GaugeMetricFamily(
            "uptime_engine_check_lateness_p99_seconds",
            "99 % of the enabled monitors are less than this past their next check.",
            value=quantile,
        )
        yield GaugeMetricFamily(
            "uptime_engine_overdue_monitors",
            "Enabled monitors past their next check (a tick or two is normal).",
            value=overdue,
        )
        yield from self._queue()
        yield from self._outbox()

    def _queue(self) -> Iterator[Metric]:
        name, length = queue_length()
        yield GaugeMetricFamily(
            "uptime_engine_broker_up",
            "1 if the task broker answered.",
            value=int(length is not None),
        )
        if length is not None:
            waiting = GaugeMetricFamily(
                "uptime_engine_queue_messages",
                "Task messages waiting in the broker's queue.",
                labels=["queue"],
            )
            waiting.add_metric([name], length)
            yield waiting

    def _outbox(self) -> Iterator[Metric]:
        pending = Notification.objects.filter(status=Notification.Status.PENDING).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "uptime_engine_pending_notifications",
            "Notifications owed to a channel and not yet sent.",
            value=pending["count"],
        )
        oldest = pending["oldest"]
        yield GaugeMetricFamily(
            "uptime_engine_oldest_pending_notification_age_seconds",
            "How long the oldest pending notification has waited (0 with none).",
            value=max(0.0, (self.now - oldest).total_seconds()) if oldest else 0.0,
        )
        transitions = Transition.objects.filter(
            notification_status=Transition.NotificationStatus.PENDING
        ).count()
        yield GaugeMetricFamily(
            "uptime_engine_pending_transitions",
            "Status changes not yet routed to notifications.",
            value=transitions,
        )


# --- The view -------------------------------------------------------------------------


def exposition(user: AbstractBaseUser, now: datetime | None = None) -> bytes:
    """The text the scrape gets for this user."""
    now = now or timezone.now()
    text = monitors_text(user, now).encode()
    if not user.is_staff:
        return text
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(now))
    return text + generate_latest(registry)


class AnyAccept(BaseContentNegotiation):
    """The exposition format whatever Accept says (Prometheus asks for OpenMetrics first)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class BearerTokenAuthentication(LimitedTokenAuthentication):
    """The API's tokens and limits, challenging with Bearer: what Prometheus sends."""

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="uptime"'


class MetricsView(APIView):
    """The API's authentication, permissions and throttles; a text answer."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    content_negotiation_class = AnyAccept

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(exposition(request.user), content_type=CONTENT_TYPE_PLAIN_0_0_4)
        response["Cache-Control"] = "no-store"
        return response
