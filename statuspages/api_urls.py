"""/api/status-pages: members build and edit status pages and write their incidents.

Included under /api/ by uptime.api_urls; a trailing slash is optional, as on every route.
"""

from django.urls import re_path

from statuspages.api import (
    IncidentCollectionApi,
    IncidentDetailApi,
    IncidentUpdateAddApi,
    StatusPageCollectionApi,
    StatusPageDetailApi,
    StatusPageLogoApi,
)

PAGE = r"^status-pages/(?P<page_id>[^/]+)"
INCIDENT = PAGE + r"/incidents/(?P<incident_id>[^/]+)"

urlpatterns = [
    re_path(r"^status-pages/?$", StatusPageCollectionApi.as_view(), name="api-status-pages"),
    re_path(PAGE + r"/?$", StatusPageDetailApi.as_view(), name="api-status-page"),
    re_path(PAGE + r"/logo/?$", StatusPageLogoApi.as_view(), name="api-status-page-logo"),
    re_path(PAGE + r"/incidents/?$", IncidentCollectionApi.as_view(), name="api-status-incidents"),
    re_path(INCIDENT + r"/?$", IncidentDetailApi.as_view(), name="api-status-incident"),
    re_path(
        INCIDENT + r"/updates/?$",
        IncidentUpdateAddApi.as_view(),
        name="api-status-incident-updates",
    ),
]
