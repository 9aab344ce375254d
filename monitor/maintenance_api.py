"""The maintenance windows API: a project's windows, and each one.

Thin views over monitor.maintenance, one class per operation, combined per
URL at the end as in sites.api. Another project's window answers 404, a
viewer's write 403 (editors and up may write: Action.EDIT_MONITORS).
"""

from datetime import datetime

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.maintenance import (
    current_or_next,
    maintenance_create,
    maintenance_delete,
    maintenance_update,
    window_get,
    window_list,
)
from monitor.models import MaintenanceWindow
from sites.api import BAD_INPUT, FORBIDDEN
from sites.models import Site
from sites.serializers import StrictInputSerializer
from teams.access import Action
from teams.api import PROJECT_ID, PROJECT_NOT_FOUND, get_project_or_404
from teams.models import Project
from uptime.api import JSONParser

WINDOW_ID = OpenApiParameter(
    "window_id", int, OpenApiParameter.PATH, description="The maintenance window's id."
)
WINDOW_NOT_FOUND = OpenApiResponse(description="No maintenance window of yours has this id.")
# Model field → API field, for the rules' errors.
API_NAMES = {"starts_at": "startsAt", "ends_at": "endsAt"}
MAX_SITES = 10_000


# --- Shapes --------------------------------------------------------------------


class MaintenanceUpdateInputSerializer(StrictInputSerializer):
    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    startsAt = serializers.DateTimeField(
        required=False, help_text="The first occurrence's start (ISO 8601; no offset: UTC)."
    )
    endsAt = serializers.DateTimeField(required=False, help_text="The first occurrence's end.")
    rrule = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text='An RFC 5545 RRULE repeating the window, e.g. "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2"; '
        "empty: once.",
    )
    timezone = serializers.CharField(
        required=False,
        max_length=64,
        help_text="IANA time zone the rule follows (a 02:00 window stays at 02:00 local time).",
    )
    sites = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=MAX_SITES,
        help_text="Ids of the project's sites it covers; empty: the whole project.",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(
                f"Send at least one of {', '.join(self.fields)} to change."
            )
        return attrs


class MaintenanceCreateInputSerializer(MaintenanceUpdateInputSerializer):
    title = serializers.CharField(max_length=200)
    startsAt = serializers.DateTimeField(
        help_text="The first occurrence's start (ISO 8601; no offset: UTC)."
    )
    endsAt = serializers.DateTimeField(help_text="The first occurrence's end.")


class MaintenanceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField()
    rrule = serializers.CharField()
    timezone = serializers.CharField()
    sites = serializers.ListField(
        child=serializers.IntegerField(), help_text="Empty: the whole project."
    )
    active = serializers.BooleanField(help_text="An occurrence is in progress now.")
    nextStart = serializers.DateTimeField(
        allow_null=True,
        help_text="The occurrence in progress, else the next one; null when none is left.",
    )
    nextEnd = serializers.DateTimeField(allow_null=True)
    createdBy = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()


class MaintenanceListOutputSerializer(serializers.Serializer):
    windows = MaintenanceOutputSerializer(many=True)


def window_data(window: MaintenanceWindow, now: datetime) -> dict:
    period = current_or_next(window, now)
    return {
        "id": window.pk,
        "project": window.project_id,
        "title": window.title,
        "description": window.description,
        "startsAt": window.starts_at,
        "endsAt": window.ends_at,
        "rrule": window.rrule,
        "timezone": window.timezone,
        "sites": sorted(site.pk for site in window.sites.all()),
        "active": period is not None and period[0] <= now,
        "nextStart": period[0] if period else None,
        "nextEnd": period[1] if period else None,
        "createdBy": window.created_by.get_username() if window.created_by else None,
        "createdAt": window.created_at,
    }


def _output(window: MaintenanceWindow) -> dict:
    return MaintenanceOutputSerializer(window_data(window, timezone.now())).data


# --- Translation -----------------------------------------------------------------


def _changes(values: dict) -> dict:
    """API fields → monitor.maintenance keywords (sites stay for _sites)."""
    names = {api: model for model, api in API_NAMES.items()}
    return {names.get(key, key): value for key, value in values.items() if key != "sites"}


def _sites(project: Project, values: dict) -> list[Site] | None:
    """The project's sites named in the body; None when the body names none."""
    if "sites" not in values:
        return None
    ids = set(values["sites"])
    sites = list(project.sites.filter(pk__in=ids))
    missing = sorted(ids - {site.pk for site in sites})
    if missing:
        listed = ", ".join(map(str, missing[:20]))
        raise ValidationError({"sites": [f"The project has no site with the id {listed}."]})
    return sites


def _window_or_404(request: Request, window_id: str, action: Action) -> MaintenanceWindow:
    try:
        return window_get(user=request.user, window_id=window_id, action=action)
    except MaintenanceWindow.DoesNotExist:
        raise NotFound(f"No maintenance window has the id {window_id!r}.") from None


# --- Views -------------------------------------------------------------------------


class MaintenanceApiView(APIView):
    parser_classes = [JSONParser]


class MaintenanceListApi(MaintenanceApiView):
    @extend_schema(
        operation_id="maintenance_list",
        parameters=[PROJECT_ID],
        responses={200: MaintenanceListOutputSerializer, 404: PROJECT_NOT_FOUND},
    )
    def get(self, request: Request, project_id: str) -> Response:
        """The project's maintenance windows, by first start, each with its next occurrence."""
        project = get_project_or_404(request, project_id)
        now = timezone.now()
        windows = [window_data(window, now) for window in window_list(project=project)]
        return Response(MaintenanceListOutputSerializer({"windows": windows}).data)


class MaintenanceCreateApi(MaintenanceApiView):
    @extend_schema(
        operation_id="maintenance_create",
        parameters=[PROJECT_ID],
        request=MaintenanceCreateInputSerializer,
        responses={
            201: MaintenanceOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: PROJECT_NOT_FOUND,
        },
    )
    def post(self, request: Request, project_id: str) -> Response:
        """Plan a maintenance window: no alerts during it (editors and above)."""
        project = get_project_or_404(request, project_id, action=Action.EDIT_MONITORS)
        serializer = MaintenanceCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        # A rule's ValidationError is a 400 under the API's field names
        # (uptime.api.exception_handler).
        window = maintenance_create(
            project=project,
            sites=_sites(project, values),
            actor=request.user,
            request=request,
            **_changes(values),
        )
        return Response(_output(window), status=status.HTTP_201_CREATED)


class MaintenanceGetApi(MaintenanceApiView):
    @extend_schema(
        operation_id="maintenance_get",
        parameters=[WINDOW_ID],
        responses={200: MaintenanceOutputSerializer, 404: WINDOW_NOT_FOUND},
    )
    def get(self, request: Request, window_id: str) -> Response:
        """One maintenance window, with whether it is active and its next occurrence."""
        return Response(_output(_window_or_404(request, window_id, Action.READ)))


class MaintenanceUpdateApi(MaintenanceApiView):
    @extend_schema(
        operation_id="maintenance_update",
        parameters=[WINDOW_ID],
        request=MaintenanceUpdateInputSerializer,
        responses={
            200: MaintenanceOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: WINDOW_NOT_FOUND,
        },
    )
    def patch(self, request: Request, window_id: str) -> Response:
        """Change a window; "sites": [] makes it cover the whole project (editors and above)."""
        window = _window_or_404(request, window_id, Action.EDIT_MONITORS)
        serializer = MaintenanceUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        window = maintenance_update(
            window=window,
            sites=_sites(window.project, values),
            actor=request.user,
            request=request,
            **_changes(values),
        )
        return Response(_output(window))


class MaintenanceDeleteApi(MaintenanceApiView):
    @extend_schema(
        operation_id="maintenance_delete",
        parameters=[WINDOW_ID],
        responses={204: None, 403: FORBIDDEN, 404: WINDOW_NOT_FOUND},
    )
    def delete(self, request: Request, window_id: str) -> Response:
        """Delete a maintenance window (editors and above)."""
        window = _window_or_404(request, window_id, Action.EDIT_MONITORS)
        maintenance_delete(window=window, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MaintenanceCollectionApi(MaintenanceListApi, MaintenanceCreateApi):
    """/api/projects/<id>/maintenance: GET lists the windows, POST adds one."""


class MaintenanceDetailApi(MaintenanceGetApi, MaintenanceUpdateApi, MaintenanceDeleteApi):
    """/api/maintenance/<id>: GET shows, PATCH changes, DELETE removes."""
