"""The public status pages: no login, served from the cache (statuspages.cache).

A page is reached two ways: /status/<slug>/… (public_urls.py) and / of its
custom domain (statuspages.middleware). Both end in `serve`, which only
differs by where links point (`Place`). What a page shows, and hides, is
decided in statuspages.render.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from statuspages import cache, feeds
from statuspages.models import StatusPage
from statuspages.render import html_context, page_data

# Browsers and proxies may keep a page this long; the server re-renders on its own schedule.
BROWSER_MAX_AGE = 30
LOGO_MAX_AGE = 365 * 24 * 3600  # the logo's URL changes with the page (?v=)
KINDS = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}


@dataclass(frozen=True)
class Place:
    """Where a page is served: its links, relative to the host, and the host's origin."""

    base: str  # "/status/<slug>" or "" on a custom domain
    json_path: str
    origin: str  # "https://status.example.com", for the feeds' absolute links

    @classmethod
    def of_slug(cls, request: HttpRequest, slug: str) -> Place:
        base = f"/status/{slug}"
        return cls(base, f"{base}.json", f"{request.scheme}://{request.get_host()}")

    @classmethod
    def of_domain(cls, request: HttpRequest, domain: str) -> Place:
        # The custom domain's middleware never calls get_host(): the Host is a page's domain.
        return cls("", "/status.json", f"{request.scheme}://{domain}")

    def links(self, data: dict) -> dict:
        version = data["page"]["logoVersion"]
        return {
            "page": self.base or "/",
            "rss": f"{self.base}/feed.rss",
            "atom": f"{self.base}/feed.atom",
            "json": self.json_path,
            "logo": f"{self.base}/logo?v={version}" if data["page"]["hasLogo"] else "",
        }


@dataclass(frozen=True)
class Rendered:
    """A representation as cached: gzipped (a tenth of the size to store and read)."""

    compressed: bytes
    etag: str


def serve(request: HttpRequest, page_id: int, place: Place, kind: str) -> HttpResponse:
    """The page as `kind` (html, json, rss, atom), from the cache when it is current."""

    def build() -> Rendered:
        page = StatusPage.objects.defer("logo").filter(pk=page_id).first()
        if page is None:  # deleted since its slug or domain was looked up
            raise Http404("No such status page.")
        return _pack(_render(page, place, kind))

    rendered = cache.cached(page_id, f"{kind}:{place.origin}:{place.base}", build)
    if request.headers.get("If-None-Match") == rendered.etag:
        response = HttpResponseNotModified()
    else:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response = HttpResponse(rendered.compressed, content_type=KINDS[kind])
            response["Content-Encoding"] = "gzip"
        else:
            body = gzip.decompress(rendered.compressed)
            response = HttpResponse(body, content_type=KINDS[kind])
        response["Content-Length"] = str(len(response.content))
    response["ETag"] = rendered.etag
    response["Cache-Control"] = f"public, max-age={BROWSER_MAX_AGE}"
    patch_vary_headers(response, ["Accept-Encoding"])
    return _public_headers(response)


def serve_logo(request: HttpRequest, page: StatusPage) -> HttpResponse:
    if not page.logo or not page.logo_type:
        raise Http404("This page has no logo.")
    response = HttpResponse(bytes(page.logo), content_type=page.logo_type)
    response["Cache-Control"] = f"public, max-age={LOGO_MAX_AGE}, immutable"
    response["Last-Modified"] = http_date(page.updated_at.timestamp())
    response["Content-Security-Policy"] = "default-src 'none'"
    return _public_headers(response)


def _render(page: StatusPage, place: Place, kind: str) -> bytes:
    data = page_data(page)
    links = place.links(data)
    if kind == "json":
        return json.dumps(_json_shape(data, links), cls=DjangoJSONEncoder).encode()
    if kind in ("rss", "atom"):
        return feeds.feed_bytes(data, links, place.origin, kind)
    context = {**html_context(data), "links": links}
    return render_to_string("statuspages/public/page.html", context, request=None).encode()


def _json_shape(data: dict, links: dict) -> dict:
    page = {k: v for k, v in data["page"].items() if k not in ("logoVersion", "hasLogo")}
    return {
        **data,
        "page": {**page, "url": links["page"], "logo": links["logo"] or None},
        "feeds": {"rss": links["rss"], "atom": links["atom"]},
    }


def _pack(body: bytes) -> Rendered:
    compressed = gzip.compress(body, compresslevel=6, mtime=0)
    return Rendered(compressed, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def _public_headers(response: HttpResponse) -> HttpResponse:
    # Set here as well as by SecurityMiddleware: a custom domain's answers skip it.
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "same-origin"
    response["X-Frame-Options"] = "DENY"
    return response


def page_id_of_slug(slug: str) -> int:
    """The page's id, cached: a cached page is served without reading its row."""

    def find() -> int | None:
        return StatusPage.objects.filter(slug=slug).values_list("pk", flat=True).first()

    found = cache.page_id(cache.slug_key(slug), find)
    if found is None:
        raise Http404("No such status page.")
    return found


def page_id_of_domain(domain: str) -> int | None:
    def find() -> int | None:
        pages = StatusPage.objects.filter(custom_domain__iexact=domain)
        return pages.values_list("pk", flat=True).first()

    return cache.page_id(cache.domain_key(domain), find)


def _slug_view(kind: str):
    @require_safe
    def view(request: HttpRequest, slug: str) -> HttpResponse:
        return serve(request, page_id_of_slug(slug), Place.of_slug(request, slug), kind)

    view.__name__ = f"{kind}_view"
    return view


page_view = _slug_view("html")
json_view = _slug_view("json")
rss_view = _slug_view("rss")
atom_view = _slug_view("atom")


@require_safe
def logo_view(request: HttpRequest, slug: str) -> HttpResponse:
    return serve_logo(request, get_object_or_404(StatusPage, slug=slug))
