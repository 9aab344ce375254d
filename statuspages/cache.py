"""What the public status pages keep ready, and when it goes stale.

Contract used by the editor (statuspages.services) and by the state-change
receiver (statuspages.receivers): call these after a write commits.

Each page has a version token in Django's cache; what is rendered of it (HTML,
JSON, feeds) is stored under a key holding that token, for PAGE_TTL seconds so
uptime figures move on and maintenance starts show up. Invalidating sets a new
token: a render that began before the change stores its result under the old
token, where nobody looks, so nothing stale comes back.

Each web process also keeps what it served last in memory (a small LRU), under
the same versioned keys: a cached page then costs one read of the shared cache
(the version) at most once a second (LOCAL_VERSION_TTL), which is what keeps
a busy page cheap, on the database cache too. An invalidation is seen at once
by the process that made it and within that second by the others.
Page ids found for a slug or domain are remembered there for LOCAL_ID_TTL
seconds; a new page or domain is never refused from memory (only found ids are
kept), but a renamed slug may answer that long in other processes.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache

# Seconds a rendered page is served before it is rendered again.
PAGE_TTL = 60
# Seconds a custom domain's page (or its absence) is remembered.
DOMAIN_TTL = 60
NO_PAGE = 0  # cached for a host that is no page's custom domain
# While one process renders a page, the others serve its last rendition, at
# most this old; a render is presumed dead after RENDER_LOCK_TTL seconds.
STALE_TTL = 300
RENDER_LOCK_TTL = 30
_STALE = object()
# This process's memory: entries kept, and seconds a found page id is trusted.
LOCAL_ENTRIES = 256
LOCAL_ID_TTL = 10
# Seconds a process trusts the page version it last read: how late an
# invalidation made elsewhere (a worker's state change) is seen here.
LOCAL_VERSION_TTL = 1


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
    _local.clear()  # this process at once; the others within LOCAL_VERSION_TTL


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
    version = _local.get(_version_key(page_id))
    if version is None:
        version = cache.get(_version_key(page_id))
        if version is None:
            # First read since the cache was emptied: whoever adds first sets the token.
            cache.add(_version_key(page_id), _token(), None)
            version = cache.get(_version_key(page_id))
        _local.put(_version_key(page_id), version, LOCAL_VERSION_TTL)
    key = f"statuspage:{page_id}:{version}:{name}"
    found = _local.get(key)
    if found is not None:
        return found
    found = cache.get(key)
    if found is None:
        found = _render_once(page_id, name, key, build)
        if found is _STALE:
            return cache.get(_last_key(page_id, name))
    _local.put(key, found, page_ttl())
    return found


def _render_once(page_id: int, name: str, key: str, build: Callable[[], Any]) -> Any:
    """Render, unless another process is at it and an older rendition can be served meanwhile.

    Without this, a busy page's expiry or invalidation would have every web
    process render it at once (a second of CPU each, for 200 monitors).
    """
    lock = f"{key}:rendering"
    if not cache.add(lock, 1, RENDER_LOCK_TTL) and cache.get(_last_key(page_id, name)):
        return _STALE
    try:
        found = build()
        cache.set(key, found, page_ttl())
        cache.set(_last_key(page_id, name), found, STALE_TTL)
    finally:
        cache.delete(lock)
    return found


def _last_key(page_id: int, name: str) -> str:
    return f"statuspage:{page_id}:last:{name}"


def domain_key(domain: str) -> str:
    return f"statuspage:domain:{domain.lower()}"


def slug_key(slug: str) -> str:
    return f"statuspage:slug:{slug}"


def page_id(key: str, find: Callable[[], int | None]) -> int | None:
    """The id of the page a slug or domain key names (None: no page), cached for
    DOMAIN_TTL seconds: a renamed slug or moved domain answers that much longer."""
    found = _local.get(key)
    if found is not None:
        return found
    found = cache.get(key)
    if found is None:
        found = find() or NO_PAGE
        cache.set(key, found, DOMAIN_TTL)
    if found:
        _local.put(key, found, LOCAL_ID_TTL)
    return found or None


def forget_local() -> None:
    """Empty this process's memory (tests; the shared cache is left alone)."""
    _local.clear()


def _version_key(page_id: int) -> str:
    return f"statuspage:{page_id}:version"


def _token() -> str:
    return secrets.token_hex(6)


class _Memory:
    """A small LRU with expiry, shared by the threads of one process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self.lock:
            found = self.entries.get(key)
            if found is None:
                return None
            if found[0] <= time.monotonic():
                del self.entries[key]
                return None
            self.entries.move_to_end(key)
            return found[1]

    def put(self, key: str, value: Any, ttl: float) -> None:
        if ttl <= 0:
            return
        with self.lock:
            self.entries[key] = (time.monotonic() + ttl, value)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_local = _Memory(LOCAL_ENTRIES)
