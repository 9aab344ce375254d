"""The locations API: anyone signed in lists them; staff add, change and remove them.

A location is the operator's, not a project's (probes serve every project),
so its writes are for staff, like the admin. Its token is shown once, when
it is made or rotated, with the command that starts its probe.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from monitor.location_services import (
    NAME_PATTERN,
    location_create,
    location_remove,
    location_rotate_token,
    location_update,
    probe_command,
)
from monitor.locations import counts, location_token
from monitor.models import Location
from sites.serializers import StrictInputSerializer
from uptime.api import JSONParser

NAME_PARAMETER = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="The location's name."
)
BAD_INPUT = OpenApiResponse(description="Invalid input; each offending field is named.")
STAFF_ONLY = OpenApiResponse(description="Only staff may add, change or remove locations.")
NOT_FOUND = OpenApiResponse(description="No location has this name.")


class StaffWrites(permissions.BasePermission):
    message = "Only staff may add, change or remove locations."

    def has_permission(self, request: Request, view) -> bool:
        return request.method in permissions.SAFE_METHODS or bool(request.user.is_staff)


class LocationOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    enabled = serializers.BooleanField()
    lastSeenAt = serializers.DateTimeField(
        source="last_seen_at", allow_null=True, help_text="Its probe's last heartbeat."
    )
    stale = serializers.SerializerMethodField(
        help_text="Enabled but not heard from lately: sent nothing, its votes do not count."
    )
    hostname = serializers.CharField(help_text="The machine its probe last reported from.")
    networkDown = serializers.SerializerMethodField(
        help_text="Its own network looks down: its votes do not count."
    )
    networkDownSince = serializers.DateTimeField(source="network_down_since", allow_null=True)

    def get_stale(self, location: Location) -> bool:
        return location.enabled and not counts(location, self.context.get("now"))

    def get_networkDown(self, location: Location) -> bool:
        return location.network_down_since is not None


class LocationListOutputSerializer(serializers.Serializer):
    locations = LocationOutputSerializer(many=True)


class LocationWithTokenOutputSerializer(LocationOutputSerializer):
    token = serializers.CharField(help_text="Shown once: its probe's UPTIME_LOCATION_TOKEN.")
    command = serializers.CharField(help_text="The command that starts its probe.")


class LocationCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(
        max_length=64, help_text="1-32 lowercase letters, digits and dashes; its queue's name."
    )
    label = serializers.CharField(required=False, allow_blank=True, max_length=200)


class LocationUpdateInputSerializer(StrictInputSerializer):
    label = serializers.CharField(required=False, allow_blank=True, max_length=200)
    enabled = serializers.BooleanField(required=False)
    rotateToken = serializers.BooleanField(
        required=False, help_text="true: revoke its token and answer a new one."
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(
                f"Send at least one of {', '.join(self.fields)} to change."
            )
        return attrs


def _with_token(location: Location, token: str) -> dict:
    data = LocationOutputSerializer(location).data
    return {**data, "token": token, "command": probe_command(location, token)}


def _location_or_404(name: str) -> Location:
    # Not a name at all (PostgreSQL refuses a NUL in a query): no such location.
    if not NAME_PATTERN.fullmatch(name):
        raise NotFound(f"No location is named {name[:40]!r}.")
    try:
        return Location.objects.get(name=name)
    except Location.DoesNotExist:
        raise NotFound(f"No location is named {name[:40]!r}.") from None


class LocationApiView(APIView):
    parser_classes = [JSONParser]
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, StaffWrites]


class LocationListApi(LocationApiView):
    @extend_schema(operation_id="location_list", responses={200: LocationListOutputSerializer})
    def get(self, request: Request) -> Response:
        """Every location checks are made from, with its last heartbeat."""
        context = {"now": timezone.now()}
        locations = Location.objects.order_by("id")
        return Response(
            LocationListOutputSerializer({"locations": locations}, context=context).data
        )


class LocationCreateApi(LocationApiView):
    @extend_schema(
        operation_id="location_create",
        request=LocationCreateInputSerializer,
        responses={201: LocationWithTokenOutputSerializer, 400: BAD_INPUT, 403: STAFF_ONLY},
    )
    def post(self, request: Request) -> Response:
        """Add a location (staff); its token and probe command are answered this once."""
        serializer = LocationCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # A bad or taken name is a Django ValidationError: a 400 naming it (uptime.api).
        location = location_create(**serializer.validated_data)
        body = _with_token(location, location_token(location))
        return Response(body, status=status.HTTP_201_CREATED)


class LocationUpdateApi(LocationApiView):
    @extend_schema(
        operation_id="location_update",
        parameters=[NAME_PARAMETER],
        request=LocationUpdateInputSerializer,
        responses={
            200: LocationWithTokenOutputSerializer,
            400: BAD_INPUT,
            403: STAFF_ONLY,
            404: NOT_FOUND,
        },
    )
    def patch(self, request: Request, name: str) -> Response:
        """Change its label, enable or disable it, or rotate its token (staff).

        The token and command are in the answer only when the token was rotated.
        """
        location = _location_or_404(name)
        serializer = LocationUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        rotate = values.pop("rotateToken", False)
        location = location_update(location=location, **values)
        if rotate:
            return Response(_with_token(location, location_rotate_token(location=location)))
        return Response(LocationOutputSerializer(location).data)


class LocationDeleteApi(LocationApiView):
    @extend_schema(
        operation_id="location_delete",
        parameters=[NAME_PARAMETER],
        responses={
            204: OpenApiResponse(description="Deleted: no check was made from it."),
            200: LocationOutputSerializer,
            400: BAD_INPUT,
            403: STAFF_ONLY,
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, name: str) -> Response:
        """Remove a location (staff): deleted if no check names it, else disabled (200)."""
        location = _location_or_404(name)
        if location_remove(location=location):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(LocationOutputSerializer(location).data)


class LocationCollectionApi(LocationListApi, LocationCreateApi):
    """/api/locations: GET lists them, POST adds one."""


class LocationDetailApi(LocationUpdateApi, LocationDeleteApi):
    """/api/locations/<name>: PATCH changes, DELETE removes (or disables)."""
