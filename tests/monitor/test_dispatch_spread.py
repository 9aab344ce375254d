"""After a stall, overdue sites resume spread over their interval, not all at once."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.dispatch import claim_due_sites, late_allowance, resume_time, spread_fraction
from monitor.probe import ProbeResult
from monitor.recording import record_results
from sites.models import Site
from tests.factories import alice_project


@pytest.fixture
def now():
    return timezone.now()


def make_sites(n: int, *, due, interval=60, prefix="s") -> list[Site]:
    project = alice_project()
    sites = Site.objects.bulk_create(
        Site(project=project, url=f"http://127.0.0.1:9/{prefix}{i}", interval=interval, timeout=10)
        for i in range(n)
    )
    Site.objects.filter(id__in=[s.id for s in sites]).update(next_check_at=due)
    return list(Site.objects.filter(id__in=[s.id for s in sites]))


def test_a_site_a_little_late_is_claimed_at_once(db, now):
    [site] = make_sites(1, due=now - late_allowance() + timedelta(seconds=1))
    assert claim_due_sites(now=now) == [site.id]


def test_a_stalled_site_is_moved_to_its_own_point_within_how_late_it_is(db, now):
    [site] = make_sites(1, due=now - timedelta(seconds=40), interval=60)
    assert claim_due_sites(now=now) == []
    site_was_due = site.next_check_at
    site.refresh_from_db()
    expected = resume_time(site.id, site_was_due, 60, now)
    assert abs(site.next_check_at - expected) < timedelta(milliseconds=1)
    assert now <= site.next_check_at <= now + timedelta(seconds=40)
    assert site.claimed_at is None and site.claim_expires_at is None


def test_a_site_stalled_for_many_intervals_resumes_within_one_interval(db, now):
    [site] = make_sites(1, due=now - timedelta(hours=3), interval=60)
    claim_due_sites(now=now)
    site.refresh_from_db()
    assert now <= site.next_check_at < now + timedelta(seconds=60)


def test_a_lost_check_is_owed_at_once_however_late(db, now):
    """A site whose claim expired lost its check (a killed worker): it is
    claimed again straight away, not spread."""
    [site] = make_sites(1, due=now, interval=10)
    assert claim_due_sites(now=now) == [site.id]
    assert claim_due_sites(now=now + timedelta(minutes=5)) == [site.id]


def test_sites_added_together_resume_evenly_spread():
    fractions = sorted(spread_fraction(site_id) for site_id in range(1, 1001))
    buckets = Counter(int(f * 10) for f in fractions)
    assert set(buckets) == set(range(10))
    assert all(80 <= count <= 120 for count in buckets.values())


def test_a_stall_of_many_sites_ramps_up_over_the_interval_once_each(db, now):
    """Every overdue site is checked once in the following interval, a few
    in each second, and not again until its next beat: one claim per due
    time, no duplicates."""
    sites = make_sites(300, due=now - timedelta(minutes=10), interval=60)
    assert claim_due_sites(now=now) == []
    claims: dict[int, list] = {site.id: [] for site in sites}
    per_second = Counter()
    for tick in range(1, 61):
        at = now + timedelta(seconds=tick)
        ids = claim_due_sites(now=at)
        per_second[tick] = len(ids)
        for site_id in ids:
            claims[site_id].append(at)
        record_results(
            [ProbeResult(up=True, checked_at=at, status_code=200, site_id=i) for i in ids],
            claim=at,
        )
    assert all(len(times) == 1 for times in claims.values())
    assert max(per_second.values()) <= 15  # 5 a second on average, not 300 at once
    for site in Site.objects.filter(id__in=claims):  # its spread slot, one interval on
        since_claim = site.next_check_at - claims[site.id][0]
        assert timedelta(seconds=59) < since_claim <= timedelta(seconds=60)


def test_a_small_limit_still_moves_every_stalled_site_and_claims_the_late_ones(db, now):
    stalled = make_sites(10, due=now - timedelta(minutes=5))
    late = make_sites(3, due=now - timedelta(seconds=1), prefix="late")
    assert sorted(claim_due_sites(now=now, limit=2) + claim_due_sites(now=now, limit=2)) == sorted(
        s.id for s in late
    )
    assert not Site.objects.filter(id__in=[s.id for s in stalled], next_check_at__lt=now).exists()
