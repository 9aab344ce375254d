"""The status pages API: one view class per operation, each a thin call into statuspages.services.

Pages of projects the user is not in answer 404; members whose role does not
allow editing monitors get 403 on writes. Operations sharing a URL are
combined at the end of the module, as in sites.api.
"""

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sites.api import project_from_query
from statuspages.models import StatusIncident, StatusPage
from statuspages.selectors import (
    incident_get,
    incident_list,
    status_page_get,
    status_page_list,
    status_page_reload,
    with_layout,
)
from statuspages.serializers import (
    StatusIncidentCreateInputSerializer,
    StatusIncidentListOutputSerializer,
    StatusIncidentOutputSerializer,
    StatusIncidentUpdateAddInputSerializer,
    StatusIncidentUpdateInputSerializer,
    StatusPageCreateInputSerializer,
    StatusPageListOutputSerializer,
    StatusPageOutputSerializer,
    StatusPageUpdateInputSerializer,
)
from statuspages.services import (
    MAX_LOGO_BYTES,
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
from teams.access import Action, require
from teams.models import Project
from teams.selectors import project_get
from uptime.api import JSONParser

PAGE_ID = OpenApiParameter("page_id", int, OpenApiParameter.PATH, description="The page's id.")
INCIDENT_ID = OpenApiParameter(
    "incident_id", int, OpenApiParameter.PATH, description="The incident's id."
)
PROJECT = OpenApiParameter(
    "project", int, OpenApiParameter.QUERY, description="Only this project's pages."
)
BAD_INPUT = OpenApiResponse(description="Invalid input; each offending field is named.")
NOT_FOUND = OpenApiResponse(description="No status page (or incident) of yours has this id.")
FORBIDDEN = OpenApiResponse(description="Your role in the page's project does not allow this.")
LOGO_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def page_or_404(request: Request, page_id: str, *, action: Action = Action.READ) -> StatusPage:
    try:
        return status_page_get(user=request.user, page_id=page_id, action=action)
    except StatusPage.DoesNotExist:
        raise NotFound(f"No status page has the id {page_id!r}.") from None


def incident_or_404(
    request: Request, page_id: str, incident_id: str, *, action: Action = Action.READ
) -> StatusIncident:
    page = page_or_404(request, page_id, action=action)
    try:
        return incident_get(page=page, incident_id=incident_id)
    except StatusIncident.DoesNotExist:
        raise NotFound(f"The page has no incident with the id {incident_id!r}.") from None


def page_answer(page: StatusPage, code: int = status.HTTP_200_OK) -> Response:
    return Response(StatusPageOutputSerializer(status_page_reload(page)).data, status=code)


def incident_answer(incident: StatusIncident, code: int = status.HTTP_200_OK) -> Response:
    fresh = incident_get(page=incident.page, incident_id=incident.pk)
    return Response(StatusIncidentOutputSerializer(fresh).data, status=code)


class StatusPageApiView(APIView):
    parser_classes = [JSONParser]


class StatusPageListApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_page_list",
        parameters=[PROJECT],
        responses={200: StatusPageListOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        """The status pages of your projects, with their groups of monitors."""
        pages = status_page_list(user=request.user, project_id=project_from_query(request))
        return Response(StatusPageListOutputSerializer({"pages": with_layout(pages)}).data)


class StatusPageCreateApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_page_create",
        request=StatusPageCreateInputSerializer,
        responses={201: StatusPageOutputSerializer, 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        """Make a public status page of chosen monitors of one of your projects."""
        serializer = StatusPageCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        project_id = values.pop("project")
        try:
            project = project_get(user=request.user, project_id=project_id)
        except Project.DoesNotExist:
            raise ValidationError(
                {"project": [f"You have no project with the id {project_id}."]}
            ) from None
        require(user=request.user, project=project, action=Action.EDIT_MONITORS)
        page = status_page_create(project=project, actor=request.user, request=request, **values)
        return page_answer(page, status.HTTP_201_CREATED)


class StatusPageGetApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_page_get",
        parameters=[PAGE_ID],
        responses={200: StatusPageOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, page_id: str) -> Response:
        """One status page with its settings and monitors."""
        return page_answer(page_or_404(request, page_id))


class StatusPageUpdateApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_page_update",
        parameters=[PAGE_ID],
        request=StatusPageUpdateInputSerializer,
        responses={
            200: StatusPageOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def patch(self, request: Request, page_id: str) -> Response:
        """Change a page's settings; sites or groups, when sent, replace its monitors."""
        page = page_or_404(request, page_id, action=Action.EDIT_MONITORS)
        serializer = StatusPageUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = status_page_update(
            page=page, actor=request.user, request=request, **serializer.validated_data
        )
        return page_answer(page)


class StatusPageDeleteApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_page_delete",
        parameters=[PAGE_ID],
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, page_id: str) -> Response:
        """Delete a page with its incidents; its address answers 404 from then on."""
        page = page_or_404(request, page_id, action=Action.EDIT_MONITORS)
        status_page_delete(page=page, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StatusPageLogoSetApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_page_logo_set",
        parameters=[PAGE_ID],
        request={media_type: OpenApiTypes.BINARY for media_type in LOGO_TYPES},
        responses={
            200: StatusPageOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def put(self, request: Request, page_id: str) -> Response:
        """Set the page's logo: the image itself as the body, at most 256 KiB.

        PNG, JPEG, GIF or WebP, recognised by its first bytes (the
        Content-Type is not trusted); SVG is refused.
        """
        page = page_or_404(request, page_id, action=Action.EDIT_MONITORS)
        status_page_logo_set(page=page, data=_body(request), actor=request.user, request=request)
        return page_answer(page)


class StatusPageLogoDeleteApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_page_logo_delete",
        parameters=[PAGE_ID],
        responses={200: StatusPageOutputSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, page_id: str) -> Response:
        """Remove the page's logo."""
        page = page_or_404(request, page_id, action=Action.EDIT_MONITORS)
        status_page_logo_clear(page=page, actor=request.user, request=request)
        return page_answer(page)


def _body(request: Request) -> bytes:
    """The raw body, refused before reading when it says it is too big for a logo."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_LOGO_BYTES:
        raise ValidationError(
            {"logo": [f"The logo is {length} bytes; at most {MAX_LOGO_BYTES} are accepted."]}
        )
    try:
        return request.body
    except RequestDataTooBig:
        raise ValidationError({"logo": ["The logo is too big."]}) from None


class IncidentListApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_incident_list",
        parameters=[PAGE_ID],
        responses={200: StatusIncidentListOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, page_id: str) -> Response:
        """The page's incidents and announcements, newest first, with their updates."""
        page = page_or_404(request, page_id)
        return Response(
            StatusIncidentListOutputSerializer({"incidents": incident_list(page=page)}).data
        )


class IncidentCreateApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_incident_create",
        parameters=[PAGE_ID],
        request=StatusIncidentCreateInputSerializer,
        responses={
            201: StatusIncidentOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, page_id: str) -> Response:
        """Write an incident or an announcement on the page, with its first update."""
        page = page_or_404(request, page_id, action=Action.EDIT_MONITORS)
        serializer = StatusIncidentCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = incident_create(
            page=page, actor=request.user, request=request, **serializer.validated_data
        )
        return incident_answer(incident, status.HTTP_201_CREATED)


class IncidentUpdateApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_incident_update",
        parameters=[PAGE_ID, INCIDENT_ID],
        request=StatusIncidentUpdateInputSerializer,
        responses={
            200: StatusIncidentOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def patch(self, request: Request, page_id: str, incident_id: str) -> Response:
        """Correct an incident's title, impact, kind or monitors."""
        incident = incident_or_404(request, page_id, incident_id, action=Action.EDIT_MONITORS)
        serializer = StatusIncidentUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = incident_update(
            incident=incident, actor=request.user, request=request, **serializer.validated_data
        )
        return incident_answer(incident)


class IncidentDeleteApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_incident_delete",
        parameters=[PAGE_ID, INCIDENT_ID],
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, page_id: str, incident_id: str) -> Response:
        """Delete an incident with its updates."""
        incident = incident_or_404(request, page_id, incident_id, action=Action.EDIT_MONITORS)
        incident_delete(incident=incident, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IncidentUpdateAddApi(StatusPageApiView):
    @extend_schema(
        operation_id="status_incident_update_add",
        parameters=[PAGE_ID, INCIDENT_ID],
        request=StatusIncidentUpdateAddInputSerializer,
        responses={
            201: StatusIncidentOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, page_id: str, incident_id: str) -> Response:
        """Add an update; status resolved resolves the incident, any other reopens it."""
        incident = incident_or_404(request, page_id, incident_id, action=Action.EDIT_MONITORS)
        serializer = StatusIncidentUpdateAddInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident_update_add(
            incident=incident, actor=request.user, request=request, **serializer.validated_data
        )
        return incident_answer(incident, status.HTTP_201_CREATED)


class StatusPageCollectionApi(StatusPageListApi, StatusPageCreateApi):
    """/api/status-pages: GET lists, POST makes one."""


class StatusPageDetailApi(StatusPageGetApi, StatusPageUpdateApi, StatusPageDeleteApi):
    """/api/status-pages/<id>: GET shows, PATCH edits, DELETE removes."""


class StatusPageLogoApi(StatusPageLogoSetApi, StatusPageLogoDeleteApi):
    """/api/status-pages/<id>/logo: PUT sets, DELETE removes."""


class IncidentCollectionApi(IncidentListApi, IncidentCreateApi):
    """/api/status-pages/<id>/incidents: GET lists, POST writes one."""


class IncidentDetailApi(IncidentUpdateApi, IncidentDeleteApi):
    """/api/status-pages/<id>/incidents/<iid>: PATCH corrects, DELETE removes."""
