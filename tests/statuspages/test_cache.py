"""The rendered page is cached per page version: a state change or an edit drops it."""

import pytest
from django.test import override_settings
from django.utils import timezone

from monitor.probe import ErrorKind, ProbeResult
from monitor.recording import record_results
from sites.models import Site
from statuspages.cache import invalidate_for_sites, invalidate_pages
from statuspages.models import StatusPage
from tests.factories import alice_project
from tests.statuspages.test_public import empty_cache, get, make_page, make_site

__all__ = ["empty_cache"]


def failure(site) -> ProbeResult:
    return ProbeResult(
        up=False,
        checked_at=timezone.now(),
        site_id=site.pk,
        status_code=503,
        error_kind=ErrorKind.HTTP_STATUS,
        error_message="HTTP 503",
    )


def states() -> list[str]:
    return [m["status"] for m in get("/status/acme.json").json()["groups"][0]["monitors"]]


@pytest.fixture
def sites(db):
    project = alice_project()
    shown = make_site(project, "API", failure_threshold=1)
    hidden = make_site(project, "Hidden", failure_threshold=1)
    make_page(project, [shown])
    return shown, hidden


def test_a_cached_page_is_served_without_rendering_again(sites):
    shown, _ = sites
    assert states() == ["up"]
    Site.objects.filter(pk=shown.pk).update(status="down")  # no signal: the cache is not told
    assert states() == ["up"]


def test_a_shown_monitor_going_down_drops_the_cached_page(
    sites, django_capture_on_commit_callbacks
):
    shown, _ = sites
    assert states() == ["up"]
    html_before = get("/status/acme").content

    with django_capture_on_commit_callbacks(execute=True):
        [transition] = record_results([failure(shown)])

    assert transition.to_status == "down"
    assert states() == ["down"]
    html_after = get("/status/acme").content.decode()
    assert b"All systems operational" in html_before and "Major outage" in html_after


def test_a_monitor_not_on_the_page_changing_leaves_the_cache_alone(
    sites, django_capture_on_commit_callbacks
):
    shown, hidden = sites
    assert states() == ["up"]
    Site.objects.filter(pk=shown.pk).update(status="degraded")  # unseen while cached

    with django_capture_on_commit_callbacks(execute=True):
        record_results([failure(hidden)])

    assert states() == ["up"]
    invalidate_for_sites([shown.pk])
    assert states() == ["degraded"]


def test_invalidating_a_page_drops_its_html_json_and_feeds(sites):
    page = StatusPage.objects.get()
    before = {path: get(path).content for path in ("/status/acme", "/status/acme/feed.rss")}
    StatusPage.objects.filter(pk=page.pk).update(title="Renamed")
    assert {path: get(path).content for path in before} == before

    invalidate_pages([page.pk])

    assert b"Renamed" in get("/status/acme").content
    assert b"Renamed" in get("/status/acme/feed.rss").content
    assert get("/status/acme.json").json()["page"]["title"] == "Renamed"


def test_a_cached_page_expires_after_its_ttl(sites):
    shown, _ = sites
    with override_settings(UPTIME_STATUS_PAGE_TTL=0):  # 0: not kept at all
        assert states() == ["up"]
        Site.objects.filter(pk=shown.pk).update(status="degraded")
        assert states() == ["degraded"]


def test_a_cached_page_costs_a_few_cache_reads_and_no_rendering(
    sites, django_assert_max_num_queries
):
    get("/status/acme")  # rendered and stored
    with django_assert_max_num_queries(1):  # the page's version, from the database cache
        assert get("/status/acme").status_code == 200


def test_a_deleted_page_is_404_once_invalidated(sites):
    page = StatusPage.objects.get()
    assert get("/status/acme").status_code == 200
    page_id = page.pk
    page.delete()
    invalidate_pages([page_id])
    assert get("/status/acme").status_code == 404


@pytest.mark.django_db
def test_while_one_process_renders_the_others_serve_the_last_rendition():
    from statuspages.cache import cached

    page_id = 4242
    assert cached(page_id, "html", lambda: "first") == "first"
    invalidate_pages([page_id])
    meanwhile = []

    def slow_render():
        # Another process asking while this render runs: the lock is held.
        meanwhile.append(cached(page_id, "html", lambda: "rendered twice"))
        return "second"

    assert cached(page_id, "html", slow_render) == "second"
    assert meanwhile == ["first"]
    assert cached(page_id, "html", lambda: "not again") == "second"


@pytest.mark.django_db
def test_with_nothing_older_to_serve_a_second_render_is_made():
    from statuspages.cache import cached

    meanwhile = []

    def render():
        meanwhile.append(cached(7, "html", lambda: "inner"))
        return "outer"

    assert cached(7, "html", render) == "outer"
    assert meanwhile == ["inner"]
