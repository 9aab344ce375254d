from allauth.account import views as account_views
from django.urls import path

from sites import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sites/list", views.site_list, name="site_list"),
    path("sites/add", views.site_add, name="site_add"),
    path("sites/<int:pk>", views.site_detail, name="site_detail"),
    path("sites/<int:pk>/delete", views.site_delete_confirm, name="site_delete"),
    path("setup", views.setup, name="setup"),
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", account_views.logout, name="logout"),
    path("healthz", views.healthz, name="healthz"),
]
