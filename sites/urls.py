from allauth.account import views as account_views
from django.urls import path

from sites import history_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sites/list", views.site_list, name="site_list"),
    path("sites/add", views.site_add, name="site_add"),
    path("sites/<int:pk>", views.site_detail, name="site_detail"),
    path("sites/<int:pk>/part", views.site_detail_part, name="site_detail_part"),
    path("sites/<int:pk>/edit", views.site_edit, name="site_edit"),
    path("sites/<int:pk>/pause", views.site_pause, name="site_pause"),
    path("sites/<int:pk>/resume", views.site_resume, name="site_resume"),
    path("sites/<int:pk>/check", views.site_check, name="site_check"),
    path("sites/<int:pk>/delete", views.site_delete_confirm, name="site_delete"),
    path("setup", views.setup, name="setup"),
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", account_views.logout, name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("sites/<int:pk>/uptime", history_views.site_uptime_part, name="site_uptime_part"),
    path("sites/<int:pk>/chart", history_views.site_chart_part, name="site_chart_part"),
    path("sites/<int:pk>/incidents", history_views.site_incidents, name="site_incidents"),
    path(
        "sites/<int:pk>/incidents/<int:transition_id>/notes",
        history_views.incident_note_add,
        name="incident_note_add",
    ),
]
