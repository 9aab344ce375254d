"""Public status pages, no login (statuspages.public). A custom domain's
routes are served by statuspages.middleware instead."""

from django.urls import path

from statuspages import public

urlpatterns = [
    path("status/<slug:slug>", public.page_view, name="status-page"),
    path("status/<slug:slug>.json", public.json_view, name="status-page-json"),
    path("status/<slug:slug>/feed.rss", public.rss_view, name="status-page-rss"),
    path("status/<slug:slug>/feed.atom", public.atom_view, name="status-page-atom"),
    path("status/<slug:slug>/logo", public.logo_view, name="status-page-logo"),
]
