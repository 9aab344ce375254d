from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

# The admin signs in through allauth's login (/login): the same failure limits
# and, for users who enabled it, the second factor. Its own form would skip both.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("uptime.api_urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("teams.urls")),
    path("", include("sites.urls")),
]
