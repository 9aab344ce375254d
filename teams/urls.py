from django.urls import path

from teams import pages, views

urlpatterns = [
    path("invite/<str:key>", views.invitation_accept_page, name="invitation_accept"),
]

urlpatterns += [
    path("account", pages.account, name="account"),
    path("account/tokens", pages.account_token_create, name="account_token_create"),
    path(
        "account/tokens/<int:token_id>/revoke",
        pages.account_token_revoke,
        name="account_token_revoke",
    ),
    path("projects", pages.projects, name="projects"),
    path("projects/<int:pk>/settings", pages.project_settings, name="project_settings"),
    path("projects/<int:pk>/delete", pages.project_delete, name="project_delete"),
    path("projects/<int:pk>/leave", pages.project_leave, name="project_leave"),
    path("projects/<int:pk>/members", pages.project_members, name="project_members"),
    path("projects/<int:pk>/members/<int:user_id>/role", pages.member_role, name="member_role"),
    path(
        "projects/<int:pk>/members/<int:user_id>/remove",
        pages.member_remove,
        name="member_remove",
    ),
    path(
        "projects/<int:pk>/invitations/<int:invitation_id>/revoke",
        pages.invitation_revoke,
        name="project_invitation_revoke",
    ),
]
