from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path

from accounts import views as account_views
from monitor import heartbeat_views, location_pages, maintenance_pages
from notifications import ack_views
from notifications.api_acks import SiteAckApi

# The admin signs in through allauth's login (/login): the same failure limits
# and, for users who enabled it, the second factor. Its own form would skip both.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    # Heartbeat pings: no login; a trailing slash is forgiven (a redirect
    # would be lost on curl without -L).
    re_path(r"^ping/(?P<token>[^/]+)/?$", heartbeat_views.ping, name="ping"),
    re_path(
        r"^ping/(?P<token>[^/]+)/(?P<signal>start|fail)/?$",
        heartbeat_views.ping,
        name="ping-signal",
    ),
    re_path(r"^api/site/(?P<site_id>[^/]+)/ack/?$", SiteAckApi.as_view(), name="api-site-ack"),
    path("api/", include("uptime.api_urls")),
    # Before allauth's own: the same pages, answering the failure policy's 429.
    path(
        "accounts/2fa/authenticate/",
        account_views.two_factor_authenticate,
        name="mfa_authenticate",
    ),
    path(
        "accounts/oidc/<str:provider_id>/login/callback/",
        account_views.sso_callback,
        name="openid_connect_callback",
    ),
    path("accounts/", include("allauth.urls")),
    path(
        "projects/<int:pk>/maintenance",
        maintenance_pages.project_maintenance,
        name="project_maintenance",
    ),
    path(
        "projects/<int:pk>/maintenance/<int:window_id>",
        maintenance_pages.maintenance_edit,
        name="maintenance_edit",
    ),
    path(
        "projects/<int:pk>/maintenance/<int:window_id>/delete",
        maintenance_pages.maintenance_delete_page,
        name="maintenance_delete",
    ),
    path("locations", location_pages.locations_page, name="locations"),
    path("", include("notifications.urls")),
    # Badges and /metrics: no session (a badge key, an API token).
    path("", include("monitor.public_urls")),
    # Status pages: their editor, and the public pages (no login).
    path("", include("statuspages.urls")),
    path("", include("statuspages.public_urls")),
    # Acknowledging a down monitor: the signed link in alerts, the site page's button.
    path("ack/<str:token>", ack_views.ack_link, name="ack_link"),
    path("sites/<int:pk>/ack", ack_views.site_acknowledge, name="site_acknowledge"),
    path("", include("teams.urls")),
    path("", include("sites.urls")),
]
