"""The status pages editor, under a project (the public pages are in public_urls)."""

from django.urls import path

from statuspages import pages

PAGE = "projects/<int:pk>/status-pages/<int:page_id>"

urlpatterns = [
    path("projects/<int:pk>/status-pages", pages.project_status_pages, name="project_status_pages"),
    path("projects/<int:pk>/status-pages/add", pages.status_page_add, name="status_page_add"),
    path(PAGE, pages.status_page_edit, name="status_page_edit"),
    path(f"{PAGE}/delete", pages.status_page_delete_page, name="status_page_delete"),
    path(f"{PAGE}/incidents", pages.status_incidents, name="status_incidents"),
    path(f"{PAGE}/incidents/<int:incident_id>", pages.status_incident, name="status_incident"),
    path(
        f"{PAGE}/incidents/<int:incident_id>/delete",
        pages.status_incident_delete,
        name="status_incident_delete",
    ),
]
