"""The dispatcher: which sites are due, and when they are due next."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.dispatch import claim_due_sites, next_due_time
from monitor.models import Check
from monitor.tasks import dispatch_due_checks
from sites.models import Site
from sites.services import site_create, site_update


@pytest.fixture
def now():
    return timezone.now()


def make_site(path: str, *, due, interval=60, enabled=True) -> Site:
    site = site_create(url=f"http://127.0.0.1:9/{path}", interval=interval, enabled=enabled)
    Site.objects.filter(pk=site.pk).update(next_check_at=due)
    return site


def test_a_new_site_is_due_at_once(db, now):
    site = site_create(url="http://127.0.0.1:9/new")
    assert site.next_check_at <= timezone.now()
    assert claim_due_sites() == [site.id]


def test_only_enabled_sites_that_are_due_are_claimed(db, now):
    due = make_site("due", due=now - timedelta(seconds=1))
    make_site("later", due=now + timedelta(seconds=30))
    make_site("off", due=now - timedelta(seconds=1), enabled=False)
    assert claim_due_sites(now=now) == [due.id]


def test_a_claimed_site_is_not_claimed_again_until_its_next_interval(db, now):
    site = make_site("a", due=now, interval=30)
    assert claim_due_sites(now=now) == [site.id]
    assert claim_due_sites(now=now + timedelta(seconds=29)) == []
    assert claim_due_sites(now=now + timedelta(seconds=30)) == [site.id]


def test_the_next_check_keeps_the_sites_own_rhythm(now):
    due = now - timedelta(seconds=2)
    assert next_due_time(due, 60, now) == due + timedelta(seconds=60)


def test_a_site_overdue_by_many_intervals_is_checked_once_not_once_per_missed_tick(now):
    due = now - timedelta(minutes=10)
    assert next_due_time(due, 60, now) == now + timedelta(seconds=60)


def test_claims_are_limited_and_the_most_overdue_go_first(db, now):
    sites = [make_site(str(n), due=now - timedelta(seconds=n)) for n in range(5)]
    assert claim_due_sites(now=now, limit=2) == [sites[4].id, sites[3].id]


def test_re_enabling_a_site_makes_it_due_now(db, now):
    site = make_site("x", due=now + timedelta(hours=1), enabled=False)
    site_update(site=site, enabled=True)
    assert claim_due_sites() == [site.id]


def test_the_dispatch_task_checks_every_due_site(db, httpserver, now):
    httpserver.expect_request("/up").respond_with_data("ok")
    up = site_create(url=httpserver.url_for("/up"))
    down = site_create(url=httpserver.url_for("/gone"))  # pytest-httpserver answers 500
    assert dispatch_due_checks() == 2
    up.refresh_from_db()
    down.refresh_from_db()
    assert (up.status, down.status) == ("up", "down")
    assert Check.objects.count() == 2
    assert dispatch_due_checks() == 0  # nothing is due again yet
