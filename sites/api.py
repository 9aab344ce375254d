"""The sites API: one view class per operation, each a thin call into sites.services.

Two operations can share a URL (GET and POST /api/site), and Django routes a
URL to one view, so the per-operation classes are combined at the end of the
module; each combined class only inherits, it adds no behaviour.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sites.models import Site
from sites.serializers import (
    SiteCreateInputSerializer,
    SiteListOutputSerializer,
    SiteOutputSerializer,
    SiteUpdateInputSerializer,
)
from sites.services import site_create, site_delete, site_get, site_update
from uptime.api import JSONParser

MAX_ID_DIGITS = len(str(2**63 - 1))

SITE_ID_PARAMETER = OpenApiParameter(
    "site_id", int, OpenApiParameter.PATH, description="The site's id."
)
BAD_INPUT = OpenApiResponse(description="Invalid input; each offending field is named.")
NOT_FOUND = OpenApiResponse(description="No site has this id.")


def get_site_or_404(site_id: str) -> Site:
    """The site with this id (as the URL spells it), or a 404 for anything else."""
    # isascii: str.isdigit() accepts "²", which int() refuses; and int() refuses
    # strings of over 4300 digits. A 64-bit id has at most 19 digits, and one
    # past 2**63 is safe to look up: Django answers it with an empty result.
    if not (site_id.isascii() and site_id.isdigit()) or len(site_id) > MAX_ID_DIGITS:
        raise NotFound(f"No site has the id {site_id!r}.")
    try:
        return site_get(int(site_id))
    except Site.DoesNotExist:
        raise NotFound(f"No site has the id {site_id}.") from None


class SiteApiView(APIView):
    # JSON only: DRF's form parsing reads a missing boolean as false, which
    # would quietly add a disabled site.
    parser_classes = [JSONParser]


class SiteListApi(SiteApiView):
    @extend_schema(operation_id="site_list", responses=SiteListOutputSerializer)
    def get(self, request: Request) -> Response:
        """Every site, with its settings and current state."""
        sites = Site.objects.all()
        return Response(SiteListOutputSerializer({"sites": sites}).data)


class SiteCreateApi(SiteApiView):
    @extend_schema(
        operation_id="site_create",
        request=SiteCreateInputSerializer,
        responses={201: SiteOutputSerializer, 400: BAD_INPUT},
    )
    def post(self, request: Request) -> Response:
        """Add a site to monitor; it is checked straight away."""
        serializer = SiteCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        site = site_create(**serializer.validated_data)
        return Response(SiteOutputSerializer(site).data, status=status.HTTP_201_CREATED)


class SiteGetApi(SiteApiView):
    @extend_schema(
        operation_id="site_get",
        parameters=[SITE_ID_PARAMETER],
        responses={200: SiteOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, site_id: str) -> Response:
        """One site, with its settings and current state."""
        return Response(SiteOutputSerializer(get_site_or_404(site_id)).data)


class SiteUpdateApi(SiteApiView):
    @extend_schema(
        operation_id="site_update",
        parameters=[SITE_ID_PARAMETER],
        request=SiteUpdateInputSerializer,
        responses={200: SiteOutputSerializer, 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def patch(self, request: Request, site_id: str) -> Response:
        """Change a site's name, interval, timeout or enabled; nothing else can change."""
        site = get_site_or_404(site_id)
        serializer = SiteUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        site = site_update(site=site, **serializer.validated_data)
        return Response(SiteOutputSerializer(site).data)


class SiteDeleteApi(SiteApiView):
    @extend_schema(
        operation_id="site_delete",
        parameters=[SITE_ID_PARAMETER],
        responses={204: None, 404: NOT_FOUND},
    )
    def delete(self, request: Request, site_id: str) -> Response:
        """Stop monitoring a site; its checks and transitions are deleted with it."""
        site_delete(site=get_site_or_404(site_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SiteCollectionApi(SiteListApi, SiteCreateApi):
    """/api/site: GET lists the sites, POST adds one."""


class SiteDetailApi(SiteGetApi, SiteUpdateApi, SiteDeleteApi):
    """/api/site/<id>: GET shows, PATCH edits, DELETE removes."""
