"""The dispatcher: which sites are due, and when they are due next."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from monitor import dispatch
from monitor.checking import check_sites
from monitor.dispatch import claim_due_sites, next_due_time
from monitor.models import Check
from monitor.pgindex import execute_by_index
from monitor.probe import ProbeResult
from monitor.recording import record_results
from monitor.tasks import dispatch_due_checks, run_checks
from sites.models import Site
from sites.services import site_create, site_update
from tests.factories import alice_project


@pytest.fixture
def now():
    return timezone.now()


def make_site(path: str, *, due, interval=60, enabled=True) -> Site:
    site = site_create(
        project=alice_project(),
        url=f"http://127.0.0.1:9/{path}",
        interval=interval,
        enabled=enabled,
    )
    Site.objects.filter(pk=site.pk).update(next_check_at=due)
    return site


def test_a_new_site_is_due_at_once(db, now):
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/new")
    assert site.next_check_at <= timezone.now()
    assert claim_due_sites() == [site.id]


def test_only_enabled_sites_that_are_due_are_claimed(db, now):
    due = make_site("due", due=now - timedelta(seconds=1))
    make_site("later", due=now + timedelta(seconds=30))
    make_site("off", due=now - timedelta(seconds=1), enabled=False)
    assert claim_due_sites(now=now) == [due.id]


def test_a_checked_site_is_not_claimed_again_until_its_next_interval(db, now):
    site = make_site("a", due=now, interval=30)
    assert claim_due_sites(now=now) == [site.id]
    record_results(
        [ProbeResult(up=True, checked_at=now, status_code=200, site_id=site.id)], claim=now
    )
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
    assert set(claim_due_sites(now=now, limit=2)) == {sites[4].id, sites[3].id}


def test_re_enabling_a_site_makes_it_due_now(db, now):
    site = make_site("x", due=now + timedelta(hours=1), enabled=False)
    site_update(site=site, enabled=True)
    assert claim_due_sites() == [site.id]


def test_the_dispatch_task_checks_every_due_site(db, httpserver, now):
    httpserver.expect_request("/up").respond_with_data("ok")
    up = site_create(project=alice_project(), url=httpserver.url_for("/up"))
    down = site_create(
        project=alice_project(), url=httpserver.url_for("/gone")
    )  # pytest-httpserver answers 500
    assert dispatch_due_checks() == 2
    up.refresh_from_db()
    down.refresh_from_db()
    assert (up.status, down.status) == ("up", "down")
    assert Check.objects.count() == 2
    assert dispatch_due_checks() == 0  # nothing is due again yet


def test_a_site_whose_check_is_still_queued_is_not_claimed_again(db, now):
    site = make_site("slow-queue", due=now, interval=10)
    assert claim_due_sites(now=now) == [site.id]
    # Its check has not been recorded yet; its next beat comes and goes.
    assert claim_due_sites(now=now + timedelta(seconds=11)) == []


def test_a_lost_check_is_claimed_again_once_its_claim_expires(db, now):
    site = make_site("lost", due=now, interval=10)
    site.timeout = 5
    site.save(update_fields=["timeout"])
    assert claim_due_sites(now=now) == [site.id]
    assert claim_due_sites(now=now + timedelta(seconds=5 + 61)) == [site.id]


def test_recording_a_result_releases_the_claim(db, httpserver, now):
    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=alice_project(), url=httpserver.url_for("/"), interval=10)
    claim = timezone.now()
    [claimed] = claim_due_sites(claim)
    check_sites([claimed], claim=claim)
    site.refresh_from_db()
    assert site.claim_expires_at is None and site.claimed_at is None
    assert claim_due_sites(now=site.next_check_at) == [site.id]


def test_a_claimed_check_is_recorded_once_however_often_its_task_runs(db, httpserver):
    """Redelivery (a worker killed after recording, before acknowledging) runs
    the same message again: the site no longer holds that claim, so it is
    neither probed nor recorded a second time."""
    httpserver.expect_request("/").respond_with_data("ok")
    sites = [
        site_create(project=alice_project(), url=httpserver.url_for(f"/?n={n}"), interval=60)
        for n in range(3)
    ]
    claim = timezone.now()
    ids = claim_due_sites(claim)
    assert sorted(ids) == [s.id for s in sites]
    assert run_checks.delay(ids, claim.isoformat()).get() == 3
    requests_so_far = len(httpserver.log)
    assert run_checks.delay(ids, claim.isoformat()).get() == 0
    assert len(httpserver.log) == requests_so_far  # not even probed
    assert Check.objects.count() == 3


def test_a_result_for_a_superseded_claim_is_dropped(db, now):
    """A task that arrives after its claim expired and the site was claimed
    again must not record: the new claim's check is the one owed."""
    site = make_site("a", due=now, interval=30)
    assert claim_due_sites(now=now) == [site.id]
    later = now + timedelta(seconds=30 + 61)
    assert claim_due_sites(now=later) == [site.id]  # the first claim expired
    result = ProbeResult(up=False, checked_at=later, error_message="refused", site_id=site.id)
    assert record_results([result], claim=now) == []
    assert Check.objects.count() == 0
    record_results([result], claim=later)
    assert Check.objects.count() == 1
    site.refresh_from_db()
    assert site.claimed_at is None and site.status == "down"


def test_a_check_on_demand_leaves_the_claim_to_its_task(db, now):
    site = make_site("a", due=now, interval=30)
    assert claim_due_sites(now=now) == [site.id]
    record_results([ProbeResult(up=True, checked_at=now, status_code=200, site_id=site.id)])
    site.refresh_from_db()
    assert site.claimed_at == now  # the queued check is still owed, and recorded
    # A moment later: one site's checks from one location never share an instant (the key).
    later = now + timedelta(seconds=1)
    record_results(
        [ProbeResult(up=True, checked_at=later, status_code=200, site_id=site.id)], claim=now
    )
    assert Check.objects.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_claim_reads_due_sites_in_index_order(db, now):
    # A bitmap or sequential scan revisits every dead index entry that claims
    # and checks leave behind, on every tick; an index scan marks them. On a
    # table this small the planner would choose a sequential scan by itself.
    for n in range(20):
        make_site(f"s{n}", due=now - timedelta(seconds=n))
    with transaction.atomic(), connection.cursor() as cursor:
        execute_by_index(
            cursor, "EXPLAIN " + dispatch._CLAIM_SQL, dispatch._claim_params(now, 5000)
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using site_due_idx" in plan
    assert "Bitmap" not in plan and "Seq Scan on sites_site" not in plan
