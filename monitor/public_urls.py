"""Routes served without a login (badges) or with an API token only (/metrics)."""

from django.urls import path

from monitor import badge_views, metrics

urlpatterns = [
    path("badge/<str:key>/status.svg", badge_views.status_svg, name="badge-status"),
    path("badge/<str:key>/uptime/<str:period>.svg", badge_views.uptime_svg, name="badge-uptime"),
    path("badge/<str:key>/response.svg", badge_views.response_svg, name="badge-response"),
    path(
        "badge/<str:key>/shields/status.json",
        badge_views.status_json,
        name="badge-status-json",
    ),
    path(
        "badge/<str:key>/shields/uptime/<str:period>.json",
        badge_views.uptime_json,
        name="badge-uptime-json",
    ),
    path(
        "badge/<str:key>/shields/response.json",
        badge_views.response_json,
        name="badge-response-json",
    ),
    path("metrics", metrics.MetricsView.as_view(), name="metrics"),
]
