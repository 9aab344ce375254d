from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("uptime.api_urls")),
    path("", include("teams.urls")),
    path("", include("sites.urls")),
]
