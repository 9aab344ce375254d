from django.urls import path

from notifications import pages

urlpatterns = [
    path("projects/<int:pk>/channels", pages.project_channels, name="project_channels"),
    path("projects/<int:pk>/channels/add", pages.channel_add, name="channel_add"),
    path("projects/<int:pk>/channels/<int:channel_id>", pages.channel_edit, name="channel_edit"),
    path(
        "projects/<int:pk>/channels/<int:channel_id>/test",
        pages.channel_test_page,
        name="channel_test",
    ),
    path(
        "projects/<int:pk>/channels/<int:channel_id>/delete",
        pages.channel_delete_page,
        name="channel_delete",
    ),
]
