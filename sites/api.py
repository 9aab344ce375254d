"""The sites API: one view class per operation, each a thin call into sites.services.

Two operations can share a URL (GET and POST /api/site), and Django routes a
URL to one view, so the per-operation classes are combined at the end of the
module; each combined class only inherits, it adds no behaviour.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.availability import uptime_many
from monitor.maintenance import in_maintenance
from monitor.site_locations import site_locations_many
from sites.models import Site
from sites.selectors import site_get, site_list
from sites.serializers import (
    SiteCreateInputSerializer,
    SiteListOutputSerializer,
    SiteOutputSerializer,
    SiteUpdateInputSerializer,
)
from sites.services import site_create, site_delete, site_update
from teams.access import Action, require
from teams.models import Project
from teams.selectors import project_get
from teams.services import personal_project_ensure
from uptime.api import JSONParser

SITE_ID_PARAMETER = OpenApiParameter(
    "site_id", int, OpenApiParameter.PATH, description="The site's id."
)
BAD_INPUT = OpenApiResponse(description="Invalid input; each offending field is named.")
NOT_FOUND = OpenApiResponse(description="No site of yours has this id.")
FORBIDDEN = OpenApiResponse(description="Your role in the site's project does not allow this.")
PROJECT_PARAMETER = OpenApiParameter(
    "project", int, OpenApiParameter.QUERY, description="Only this project's sites."
)


def get_site_or_404(request: Request, site_id: str, *, action: Action = Action.READ) -> Site:
    """The user's site with this id, or a 404 (another project's site is not theirs to see).

    For an action beyond reading, the user's role must allow it (else 403).
    """
    try:
        return site_get(user=request.user, site_id=site_id, action=action)
    except Site.DoesNotExist:
        raise NotFound(f"No site has the id {site_id!r}.") from None


def project_from_query(request: Request) -> int | None:
    """?project=<id>: one of the user's projects (404 for any other), or None."""
    raw = request.query_params.get("project")
    if raw is None:
        return None
    try:
        return project_get(user=request.user, project_id=raw).pk
    except Project.DoesNotExist:
        raise NotFound(f"No project has the id {raw!r}.") from None


class SiteApiView(APIView):
    # JSON only: DRF's form parsing reads a missing boolean as false, which
    # would quietly add a disabled site.
    parser_classes = [JSONParser]


class SiteListApi(SiteApiView):
    @extend_schema(
        operation_id="site_list",
        parameters=[PROJECT_PARAMETER],
        responses={200: SiteListOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        """Every site of your projects, with its settings and current state."""
        sites = site_list(user=request.user, project_id=project_from_query(request))
        sites = list(sites.prefetch_related("channels", "tags", "locations"))
        maintenance = in_maintenance([site.pk for site in sites], timezone.now())
        context = {
            "in_maintenance": maintenance,
            "uptime": uptime_many(sites),
            "locations": site_locations_many(sites),
        }
        return Response(SiteListOutputSerializer({"sites": sites}, context=context).data)


class SiteCreateApi(SiteApiView):
    @extend_schema(
        operation_id="site_create",
        request=SiteCreateInputSerializer,
        responses={201: SiteOutputSerializer, 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        """Add a site to monitor (to your personal project by default); it is checked at once."""
        serializer = SiteCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        project_id = values.pop("project", None)
        if project_id is None:
            project = personal_project_ensure(user=request.user)
        else:
            project = _project_for_write(request, project_id)
        require(user=request.user, project=project, action=Action.EDIT_MONITORS)
        _resolve_parent(request, values)
        site = site_create(project=project, actor=request.user, request=request, **values)
        return Response(SiteOutputSerializer(site).data, status=status.HTTP_201_CREATED)


class SiteGetApi(SiteApiView):
    @extend_schema(
        operation_id="site_get",
        parameters=[SITE_ID_PARAMETER],
        responses={200: SiteOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, site_id: str) -> Response:
        """One site, with its settings and current state."""
        return Response(SiteOutputSerializer(get_site_or_404(request, site_id)).data)


class SiteUpdateApi(SiteApiView):
    @extend_schema(
        operation_id="site_update",
        parameters=[SITE_ID_PARAMETER],
        request=SiteUpdateInputSerializer,
        responses={200: SiteOutputSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def patch(self, request: Request, site_id: str) -> Response:
        """Change a monitor's settings or options, or pause it; its kind and URL stay."""
        site = get_site_or_404(request, site_id, action=Action.EDIT_MONITORS)
        serializer = SiteUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        _resolve_parent(request, values)
        site = site_update(site=site, actor=request.user, request=request, **values)
        return Response(SiteOutputSerializer(site).data)


class SiteDeleteApi(SiteApiView):
    @extend_schema(
        operation_id="site_delete",
        parameters=[SITE_ID_PARAMETER],
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, site_id: str) -> Response:
        """Stop monitoring a site; its checks and transitions are deleted with it."""
        site = get_site_or_404(request, site_id, action=Action.EDIT_MONITORS)
        site_delete(site=site, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _resolve_parent(request: Request, values: dict) -> None:
    """dependsOn's id → one of the user's monitors (its project is checked by the model)."""
    parent_id = values.get("depends_on")
    if parent_id is None:
        return
    try:
        values["depends_on"] = site_get(user=request.user, site_id=parent_id)
    except Site.DoesNotExist:
        raise ValidationError({"dependsOn": [f"No monitor has the id {parent_id}."]}) from None


def _project_for_write(request: Request, project_id: int) -> Project:
    try:
        return project_get(user=request.user, project_id=project_id)
    except Project.DoesNotExist:
        # A field of the body, not the URL: a 400 naming it, like any bad value.
        raise ValidationError(
            {"project": [f"You have no project with the id {project_id}."]}
        ) from None


class SiteCollectionApi(SiteListApi, SiteCreateApi):
    """/api/site: GET lists the sites, POST adds one."""


class SiteDetailApi(SiteGetApi, SiteUpdateApi, SiteDeleteApi):
    """/api/site/<id>: GET shows, PATCH edits, DELETE removes."""
