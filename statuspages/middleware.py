"""The public status pages' front door: their own host names, and the fast path.

Served here, before the application's middleware (sessions, CSRF, auth, …):
- a page's custom domain (StatusPage.custom_domain), described below;
- /status/<slug>, .json, /feed.rss and /feed.atom on the application's own
  hosts, when the page exists: a cached page then costs a dictionary look-up
  instead of a dozen middleware and the URL resolver (bench/status_page.py).
  Anything else (an unknown slug, the logo) goes on to statuspages.public_urls.

A custom domain is not in ALLOWED_HOSTS (it is the page owner's, added any
time), so request.get_host() would refuse it in CommonMiddleware, CSRF and
the security middleware. This middleware runs before them, reads the raw Host
header, and when it names a page's custom domain answers that page's public
routes itself (and lets WhiteNoise serve the static files); anything else
on that host is 404. A host that is allowed
(ALLOWED_HOSTS) is never looked up: the application is served as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.request import split_domain_port, validate_host
from django.middleware.security import SecurityMiddleware

from statuspages import public

HOST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")
SLUG_ROUTE = re.compile(r"^/status/([a-z0-9-]{1,64})(\.json|/feed\.rss|/feed\.atom)?$")
SLUG_KINDS = {None: "html", ".json": "json", "/feed.rss": "rss", "/feed.atom": "atom"}
ROUTES = {"/": "html", "/status.json": "json", "/feed.rss": "rss", "/feed.atom": "atom"}
LOGO = "/logo"
NOT_FOUND = "Not found.\n"


class PublicPageMiddleware:
    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        # Its headers (HSTS, nosniff, referrer, opener policy) on what is answered here;
        # its process_response never asks for the host.
        self.security = SecurityMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        domain = _raw_domain(request)
        if domain is None or validate_host(domain, _allowed_hosts()):
            response = self._slug_route(request)
            if response is None:
                return self.get_response(request)
            return self.security.process_response(request, response)
        page_id = public.page_id_of_domain(domain)
        if page_id is None:
            return self.get_response(request)  # Django answers 400 for an unknown host
        if request.path.startswith(settings.STATIC_URL) or request.path.startswith(
            "/" + settings.STATIC_URL
        ):
            # The page's stylesheet: WhiteNoise serves it before anything asks for the host.
            return self.get_response(request)
        return self.security.process_response(request, _serve(request, page_id, domain))

    def _slug_route(self, request: HttpRequest) -> HttpResponse | None:
        """The page at /status/<slug>…, or None to let the application answer."""
        match = SLUG_ROUTE.match(request.path)
        if match is None or request.method not in ("GET", "HEAD"):
            return None
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return None  # SecurityMiddleware redirects to https
        try:
            page_id = public.page_id_of_slug(match[1])
            place = public.Place.of_slug(request, match[1])
            response = public.serve(request, page_id, place, SLUG_KINDS[match[2]])
        except Http404:
            return None  # the application's own 404 page
        return response


def _serve(request: HttpRequest, page_id: int, domain: str) -> HttpResponse:
    if request.path not in ROUTES and request.path != LOGO:
        return _not_found()
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    try:
        if request.path == LOGO:
            from statuspages.models import StatusPage

            page = StatusPage.objects.filter(pk=page_id).first()
            if page is None:
                raise Http404
            return public.serve_logo(request, page)
        place = public.Place.of_domain(request, domain)
        return public.serve(request, page_id, place, ROUTES[request.path])
    except Http404:
        return _not_found()


def _not_found() -> HttpResponse:
    response = HttpResponse(NOT_FOUND, status=404, content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _raw_domain(request: HttpRequest) -> str | None:
    """The Host header's name, lower case, without its port; None when it is no host name."""
    host = request.META.get("HTTP_HOST", "")
    domain, _ = split_domain_port(host.lower())
    domain = domain.rstrip(".")
    return domain if HOST_NAME.match(domain) else None


def _allowed_hosts() -> list[str]:
    hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not hosts:  # what get_host() allows then
        return [".localhost", "127.0.0.1", "[::1]"]
    return hosts
