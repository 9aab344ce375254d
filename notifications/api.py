"""The channels API: one view class per operation, each a thin call into notifications.services.

Errors of a kind's settings answer nested under `config`
({"config": {"url": ["…"]}}); every other field's errors under its API name.
Another project's channel answers 404, a viewer's write 403 (editors and up
write: Action.EDIT_MONITORS). Combined per URL at the end, as in sites.api.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from notifications.models import Channel
from notifications.selectors import channel_get, channel_list
from notifications.serializers import (
    ChannelCreateInputSerializer,
    ChannelKindListOutputSerializer,
    ChannelListOutputSerializer,
    ChannelOutputSerializer,
    ChannelTestOutputSerializer,
    ChannelUpdateInputSerializer,
    kind_data,
)
from notifications.services import (
    available_kinds,
    channel_create,
    channel_delete,
    channel_test,
    channel_update,
)
from sites.api import BAD_INPUT, FORBIDDEN, PROJECT_PARAMETER, project_from_query
from teams.access import Action
from teams.api import PROJECT_NOT_FOUND
from teams.models import Project
from teams.selectors import project_get
from teams.services import personal_project_ensure
from uptime.api import JSONParser, camel_case
from uptime.throttling import AnonThrottle, ProbeThrottle, UserThrottle

CHANNEL_ID = OpenApiParameter(
    "channel_id", int, OpenApiParameter.PATH, description="The channel's id."
)
CHANNEL_NOT_FOUND = OpenApiResponse(description="No channel of yours has this id.")
CONFIG_PREFIX = "config."
NON_FIELD_ERRORS_KEY = api_settings.NON_FIELD_ERRORS_KEY


def api_errors(exc: DjangoValidationError) -> dict:
    """A service's errors under the API's names, the kind's settings nested in `config`."""
    errors, settings, whole = {}, {}, []
    for field, reasons in exc.message_dict.items():
        if field.startswith(CONFIG_PREFIX):
            settings[field.removeprefix(CONFIG_PREFIX)] = reasons
        elif field == "config":
            whole.extend(reasons)
        else:
            errors[camel_case(field)] = reasons
    if settings:
        errors["config"] = {**settings, **({NON_FIELD_ERRORS_KEY: whole} if whole else {})}
    elif whole:
        errors["config"] = whole
    return errors


def _channel_or_404(request: Request, channel_id: str, action: Action = Action.READ) -> Channel:
    try:
        return channel_get(user=request.user, channel_id=channel_id, action=action)
    except Channel.DoesNotExist:
        raise NotFound(f"No channel has the id {channel_id!r}.") from None


def _project_for_write(request: Request, project_id: int | None) -> Project:
    if project_id is None:
        return personal_project_ensure(user=request.user)
    try:
        return project_get(user=request.user, project_id=project_id)
    except Project.DoesNotExist:
        # A field of the body, not the URL: a 400 naming it, like any bad value.
        raise ValidationError(
            {"project": [f"You have no project with the id {project_id}."]}
        ) from None


def _output(channel: Channel) -> dict:
    return ChannelOutputSerializer(channel).data


class ChannelApiView(APIView):
    parser_classes = [JSONParser]


class ChannelListApi(ChannelApiView):
    @extend_schema(
        operation_id="channel_list",
        parameters=[PROJECT_PARAMETER],
        responses={200: ChannelListOutputSerializer, 404: PROJECT_NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        """The channels of your projects (or of one), with their health; secrets masked."""
        channels = channel_list(user=request.user, project_id=project_from_query(request))
        return Response(ChannelListOutputSerializer({"channels": channels}).data)


class ChannelCreateApi(ChannelApiView):
    @extend_schema(
        operation_id="channel_create",
        request=ChannelCreateInputSerializer,
        responses={201: ChannelOutputSerializer, 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        """Add a channel to a project (editors and above); test it with POST …/test."""
        serializer = ChannelCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        project = _project_for_write(request, values.pop("project", None))
        try:
            channel = channel_create(actor=request.user, project=project, request=request, **values)
        except DjangoValidationError as exc:
            raise ValidationError(api_errors(exc)) from None
        return Response(_output(channel), status=status.HTTP_201_CREATED)


class ChannelGetApi(ChannelApiView):
    @extend_schema(
        operation_id="channel_get",
        parameters=[CHANNEL_ID],
        responses={200: ChannelOutputSerializer, 404: CHANNEL_NOT_FOUND},
    )
    def get(self, request: Request, channel_id: str) -> Response:
        """One channel, with its health; secrets masked."""
        return Response(_output(_channel_or_404(request, channel_id)))


class ChannelUpdateApi(ChannelApiView):
    @extend_schema(
        operation_id="channel_update",
        parameters=[CHANNEL_ID],
        request=ChannelUpdateInputSerializer,
        responses={
            200: ChannelOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: CHANNEL_NOT_FOUND,
        },
    )
    def patch(self, request: Request, channel_id: str) -> Response:
        """Change a channel; "enabled": true turns on one a permanent error turned off."""
        channel = _channel_or_404(request, channel_id, Action.EDIT_MONITORS)
        serializer = ChannelUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            channel = channel_update(
                actor=request.user, channel=channel, request=request, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise ValidationError(api_errors(exc)) from None
        return Response(_output(channel))


class ChannelDeleteApi(ChannelApiView):
    @extend_schema(
        operation_id="channel_delete",
        parameters=[CHANNEL_ID],
        responses={204: None, 403: FORBIDDEN, 404: CHANNEL_NOT_FOUND},
    )
    def delete(self, request: Request, channel_id: str) -> Response:
        """Delete a channel; monitors that chose only it use the project's defaults again."""
        channel = _channel_or_404(request, channel_id, Action.EDIT_MONITORS)
        channel_delete(actor=request.user, channel=channel, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestApi(ChannelApiView):
    # A request leaves the machine inside this one: the probes' own rate.
    throttle_classes = [UserThrottle, AnonThrottle, ProbeThrottle]

    @extend_schema(
        operation_id="channel_test",
        parameters=[CHANNEL_ID],
        request=None,
        responses={200: ChannelTestOutputSerializer, 403: FORBIDDEN, 404: CHANNEL_NOT_FOUND},
    )
    def post(self, request: Request, channel_id: str) -> Response:
        """Send a test message now and answer with what the destination said.

        200 whether or not it was delivered (see `ok`); the outcome is recorded
        as the channel's last success or last error, and never disables it.
        """
        channel = _channel_or_404(request, channel_id, Action.EDIT_MONITORS)
        return Response(ChannelTestOutputSerializer(channel_test(channel=channel)).data)


class ChannelKindListApi(ChannelApiView):
    @extend_schema(
        operation_id="channel_kind_list", responses={200: ChannelKindListOutputSerializer}
    )
    def get(self, request: Request) -> Response:
        """Every channel kind with its settings, to build a form for `config`."""
        kinds = [kind_data(kind) for kind in available_kinds()]
        return Response(ChannelKindListOutputSerializer({"kinds": kinds}).data)


class ChannelCollectionApi(ChannelListApi, ChannelCreateApi):
    """/api/channels: GET lists the channels, POST adds one."""


class ChannelDetailApi(ChannelGetApi, ChannelUpdateApi, ChannelDeleteApi):
    """/api/channels/<id>: GET shows, PATCH changes, DELETE removes."""
