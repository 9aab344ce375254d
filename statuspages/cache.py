"""What the public status pages keep ready, and when it goes stale.

Contract used by the editor (statuspages.services) and by the state-change
receiver (statuspages.receivers): call these after a write commits.

Each page has a version token in Django's cache; what is rendered of it (HTML,
JSON, feeds) is stored under a key holding that token, for PAGE_TTL seconds so
uptime figures move on and maintenance starts show up. Invalidating sets a new
token: a render that began before the change stores its result under the old
token, where nobody looks, so nothing stale comes back.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache

# Seconds a rendered page is served before it is rendered again.
PAGE_TTL = 60
# Seconds a custom domain's page (or its absence) is remembered.
DOMAIN_TTL = 60
NO_PAGE = 0  # cached for a host that is no page's custom domain


def page_ttl() -> int:
    return getattr(settings, "UPTIME_STATUS_PAGE_TTL", PAGE_TTL)


def invalidate_pages(page_ids: Iterable[int]) -> None:
    """These pages changed (settings, groups, incidents): drop what is cached of them."""
    from statuspages.models import StatusPage

    page_ids = list(page_ids)
    if not page_ids:
        return
    cache.set_many({_version_key(page_id): _token() for page_id in page_ids}, None)
    # A page's new slug or custom domain (or a new page) is found at once;
    # an old one it left answers for at most DOMAIN_TTL seconds more.
    names = StatusPage.objects.filter(pk__in=page_ids).values_list("slug", "custom_domain")
    keys = [slug_key(slug) for slug, _ in names]
    keys += [domain_key(domain) for _, domain in names if domain]
    cache.delete_many(keys)


def invalidate_for_sites(site_ids: Iterable[int]) -> None:
    """These monitors changed state: drop what is cached of every page showing one."""
    from statuspages.models import StatusPageMonitor

    site_ids = list(site_ids)
    if not site_ids:
        return
    shown = StatusPageMonitor.objects.filter(site_id__in=site_ids)
    invalidate_pages(set(shown.values_list("page_id", flat=True)))


def cached(page_id: int, name: str, build: Callable[[], Any]) -> Any:
    """What `build` makes for this page under `name`, from the cache while it is current."""
    version = cache.get(_version_key(page_id))
    if version is None:
        # First read since the cache was emptied: whoever adds first sets the token.
        cache.add(_version_key(page_id), _token(), None)
        version = cache.get(_version_key(page_id))
    key = f"statuspage:{page_id}:{version}:{name}"
    found = cache.get(key)
    if found is None:
        found = build()
        cache.set(key, found, page_ttl())
    return found


def domain_key(domain: str) -> str:
    return f"statuspage:domain:{domain.lower()}"


def slug_key(slug: str) -> str:
    return f"statuspage:slug:{slug}"


def page_id(key: str, find: Callable[[], int | None]) -> int | None:
    """The id of the page a slug or domain key names (None: no page), cached for
    DOMAIN_TTL seconds: a renamed slug or moved domain answers that much longer."""
    found = cache.get(key)
    if found is None:
        found = find() or NO_PAGE
        cache.set(key, found, DOMAIN_TTL)
    return found or None


def _version_key(page_id: int) -> str:
    return f"statuspage:{page_id}:version"


def _token() -> str:
    return secrets.token_hex(6)
