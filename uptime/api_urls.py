"""The REST API under /api/, with the seed's routes.

Each route takes an optional trailing slash ("/?$"), so /api/site and
/api/site/ both work without a redirect, which would drop a POST body.
"""

from django.conf import settings
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.permissions import IsAuthenticated

from monitor.api import CheckAllApi, CheckApi, PingApi, StatusApi
from monitor.incidents_api import IncidentListApi, IncidentNoteCreateApi
from monitor.locations_api import LocationCollectionApi, LocationDetailApi
from monitor.maintenance_api import MaintenanceCollectionApi, MaintenanceDetailApi
from notifications.api import (
    ChannelCollectionApi,
    ChannelDetailApi,
    ChannelKindListApi,
    ChannelTestApi,
)
from sites.api import SiteCollectionApi, SiteDetailApi
from teams.api import (
    AuditListApi,
    InvitationListApi,
    InvitationRevokeApi,
    MemberCollectionApi,
    MemberDetailApi,
    ProjectCollectionApi,
    ProjectDetailApi,
    TokenCollectionApi,
    TokenRevokeApi,
)
from uptime.middleware import csp_override

PROJECT = r"^projects/(?P<project_id>[^/]+)"

# Swagger UI and Redoc set inline styles as they render, show data: images,
# and Redoc searches in a blob: worker; scripts stay our own files only (the
# split Swagger view serves its start-up script as a file, at ?script).
DOCS_CSP = (
    f"{settings.UPTIME_CSP}; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:"
)

urlpatterns = [
    path("", include("statuspages.api_urls")),
    # Everything after "ping/" is the target URL, slashes included, and line
    # breaks too ("s" flag), so the view refuses them with a 400, not a 404.
    re_path(r"^ping/(?P<url>(?s:.*))$", PingApi.as_view(), name="api-ping"),
    re_path(r"^site/?$", SiteCollectionApi.as_view(), name="api-sites"),
    re_path(r"^site/(?P<site_id>[^/]+)/?$", SiteDetailApi.as_view(), name="api-site"),
    re_path(
        r"^site/(?P<site_id>[^/]+)/incidents/?$", IncidentListApi.as_view(), name="api-incidents"
    ),
    re_path(
        r"^site/(?P<site_id>[^/]+)/incidents/(?P<transition_id>[^/]+)/notes/?$",
        IncidentNoteCreateApi.as_view(),
        name="api-incident-notes",
    ),
    re_path(r"^check/(?P<site_id>[^/]+)/?$", CheckApi.as_view(), name="api-check"),
    re_path(r"^check-all/?$", CheckAllApi.as_view(), name="api-check-all"),
    re_path(r"^status/?$", StatusApi.as_view(), name="api-status"),
    re_path(r"^projects/?$", ProjectCollectionApi.as_view(), name="api-projects"),
    re_path(PROJECT + r"/?$", ProjectDetailApi.as_view(), name="api-project"),
    re_path(PROJECT + r"/members/?$", MemberCollectionApi.as_view(), name="api-members"),
    re_path(
        PROJECT + r"/members/(?P<user_id>[^/]+)/?$", MemberDetailApi.as_view(), name="api-member"
    ),
    re_path(PROJECT + r"/invitations/?$", InvitationListApi.as_view(), name="api-invitations"),
    re_path(
        PROJECT + r"/invitations/(?P<invitation_id>[^/]+)/?$",
        InvitationRevokeApi.as_view(),
        name="api-invitation",
    ),
    re_path(PROJECT + r"/audit/?$", AuditListApi.as_view(), name="api-audit"),
    re_path(
        PROJECT + r"/maintenance/?$", MaintenanceCollectionApi.as_view(), name="api-maintenance"
    ),
    re_path(
        r"^maintenance/(?P<window_id>[^/]+)/?$",
        MaintenanceDetailApi.as_view(),
        name="api-maintenance-window",
    ),
    re_path(r"^channels/?$", ChannelCollectionApi.as_view(), name="api-channels"),
    re_path(r"^channels/(?P<channel_id>[^/]+)/?$", ChannelDetailApi.as_view(), name="api-channel"),
    re_path(
        r"^channels/(?P<channel_id>[^/]+)/test/?$",
        ChannelTestApi.as_view(),
        name="api-channel-test",
    ),
    re_path(r"^channel-kinds/?$", ChannelKindListApi.as_view(), name="api-channel-kinds"),
    re_path(r"^locations/?$", LocationCollectionApi.as_view(), name="api-locations"),
    re_path(r"^locations/(?P<name>[^/]+)/?$", LocationDetailApi.as_view(), name="api-location"),
    re_path(r"^tokens/?$", TokenCollectionApi.as_view(), name="api-tokens"),
    re_path(r"^tokens/(?P<token_id>[^/]+)/?$", TokenRevokeApi.as_view(), name="api-token"),
    # The schema needs credentials like every other route. It is served as
    # JSON, so its errors read like every other route's.
    re_path(
        r"^schema/?$",
        SpectacularJSONAPIView.as_view(permission_classes=[IsAuthenticated]),
        name="api-schema",
    ),
    # The schema as pages for people, behind the same login.
    re_path(
        r"^docs/?$",
        csp_override(DOCS_CSP)(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", permission_classes=[IsAuthenticated]
            )
        ),
        name="api-docs",
    ),
    re_path(
        r"^redoc/?$",
        csp_override(DOCS_CSP)(
            SpectacularRedocView.as_view(
                url_name="api-schema",
                permission_classes=[IsAuthenticated],
                # Without the stock page's Google Fonts links (no CDN).
                template_name="uptime/redoc.html",
            )
        ),
        name="api-redoc",
    ),
]
