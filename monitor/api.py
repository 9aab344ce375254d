"""The monitoring API: ping a URL, check a site now, queue every check, read status."""

import logging

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from kombu.exceptions import OperationalError as BrokerError
from requests.utils import requote_uri
from rest_framework import status
from rest_framework.exceptions import (
    APIException,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationError,
)
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.checking import check_site_now
from monitor.probe import Target, probe
from monitor.probe_limits import ProbeCapReached, probe_slot
from monitor.serializers import (
    CheckAllOutputSerializer,
    CheckOutputSerializer,
    PingInputSerializer,
    ProbeResultOutputSerializer,
    StatusOutputSerializer,
)
from monitor.status import status_json
from monitor.tasks import queue_all_checks
from sites.api import (
    BAD_INPUT,
    FORBIDDEN,
    NOT_FOUND,
    PROJECT_PARAMETER,
    SITE_ID_PARAMETER,
    get_site_or_404,
    project_from_query,
)
from sites.models import Site
from teams.access import Action
from teams.selectors import editable_project_ids, project_list
from uptime.throttling import AnonThrottle, ProbeThrottle, UserThrottle

log = logging.getLogger(__name__)

# What a ping may take: a new site's default timeout.
PING_TIMEOUT = Site._meta.get_field("timeout").get_default()


class BrokerUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "The task queue cannot be reached, so no checks were queued. "
        "Check that the broker named by CELERY_BROKER_URL is running, then try again."
    )
    default_code = "broker_unavailable"


class TargetQueryContentNegotiation(BaseContentNegotiation):
    """Answer JSON whatever the query string says.

    The query string belongs to the pinged URL, so DRF must not read a
    "?format=xml" in it as a renderer choice (it would answer 404).
    """

    def select_parser(self, request: Request, parsers: list) -> object:
        return parsers[0]

    def select_renderer(self, request: Request, renderers: list, format_suffix=None) -> tuple:
        return renderers[0], renderers[0].media_type


TOO_MANY_PROBES = OpenApiResponse(
    description="Too many probes: over UPTIME_PROBE_RATE, or too many running at once "
    "(Retry-After says when to try again)."
)


class ProbeThrottled(Throttled):
    def __init__(self, refusal: ProbeCapReached) -> None:
        super().__init__(wait=refusal.retry_after, detail=str(refusal))


class ProbeApi(APIView):
    """A view that runs a probe inside the request: its own rate, and a slot for each probe."""

    throttle_classes = [UserThrottle, AnonThrottle, ProbeThrottle]

    def run_probe(self, request: Request, timeout: float, probe_call):
        try:
            with probe_slot(user_id=request.user.pk, timeout=timeout):
                return probe_call()
        except ProbeCapReached as refusal:
            raise ProbeThrottled(refusal) from None


class PingApi(ProbeApi):
    content_negotiation_class = TargetQueryContentNegotiation

    @extend_schema(
        operation_id="ping",
        parameters=[
            OpenApiParameter(
                "url",
                str,
                OpenApiParameter.PATH,
                description=(
                    "The URL to probe, slashes and query string included "
                    "(/api/ping/https://example.com/health?x=1); a bare host means https://."
                ),
            )
        ],
        responses={200: ProbeResultOutputSerializer, 400: BAD_INPUT, 429: TOO_MANY_PROBES},
    )
    def get(self, request: Request, url: str) -> Response:
        """Probe a URL now and answer whether it is up; nothing is stored."""
        serializer = PingInputSerializer(data={"url": target_url_from_path(request, url)})
        serializer.is_valid(raise_exception=True)
        target = serializer.validated_data["url"]
        result = self.run_probe(
            request, PING_TIMEOUT, lambda: probe(Target(url=target, timeout=PING_TIMEOUT))
        )
        return Response(ProbeResultOutputSerializer(result, context={"url": target}).data)


def target_url_from_path(request: Request, path_part: str) -> str:
    """Rebuild the target URL from the rest of the path and the query string."""
    # Django hands the path over percent-decoded; quote again what cannot
    # stand in a URL (a space), leaving valid characters and escapes alone.
    url = requote_uri(path_part)
    query = request.META.get("QUERY_STRING", "")
    return f"{url}?{query}" if query else url


class CheckApi(ProbeApi):
    @extend_schema(
        operation_id="check",
        parameters=[SITE_ID_PARAMETER],
        request=None,
        responses={
            200: CheckOutputSerializer,
            403: FORBIDDEN,
            404: NOT_FOUND,
            429: TOO_MANY_PROBES,
        },
    )
    def post(self, request: Request, site_id: str) -> Response:
        """Probe one site now (even a disabled one) and record the result."""
        site = get_site_or_404(request, site_id, action=Action.EDIT_MONITORS)
        if site.kind == "heartbeat":
            raise ValidationError(
                {"kind": ["A heartbeat monitor is not checked: the job it watches pings it."]}
            )
        try:
            result = self.run_probe(request, site.timeout, lambda: check_site_now(site))
        except Site.DoesNotExist:
            raise NotFound(f"Site {site.id} was deleted during the check.") from None
        return Response(CheckOutputSerializer(result, context={"url": site.url}).data)


class CheckAllApi(APIView):
    @extend_schema(
        operation_id="check_all",
        request=None,
        responses={
            202: CheckAllOutputSerializer,
            403: FORBIDDEN,
            503: OpenApiResponse(description="The task queue (broker) cannot be reached."),
        },
    )
    def post(self, request: Request) -> Response:
        """Queue a check of every enabled site in the projects where you may edit monitors."""
        projects = list(editable_project_ids(user=request.user))
        if not projects:
            raise PermissionDenied("Only a project editor or above may check its sites.")
        try:
            queued = queue_all_checks(project_ids=projects)
        except (BrokerError, OSError) as exc:
            # kombu wraps network failures in OperationalError; the filesystem
            # broker raises plain OSError when its folder cannot be written.
            log.error("check-all could not reach the broker: %s", exc)
            raise BrokerUnavailable from None
        data = CheckAllOutputSerializer({"queued": queued}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


class StatusApi(APIView):
    @extend_schema(
        operation_id="status",
        parameters=[PROJECT_PARAMETER],
        responses={200: StatusOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> HttpResponse:
        """The current state of every site of your projects, from the site rows in one query."""
        project_id = project_from_query(request)
        if project_id is None:
            projects = list(project_list(user=request.user).values_list("pk", flat=True))
        else:
            projects = [project_id]
        # Already JSON (built by the database on PostgreSQL): sent as it is.
        return HttpResponse(status_json(project_ids=projects), content_type="application/json")
