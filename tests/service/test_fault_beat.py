"""Faults in the scheduler: two beat processes at once, and beat stopped for
many intervals. The claim on each site (monitor.dispatch), not beat, decides what
is checked, so neither doubles nor floods the checks."""

import os
import time

import pytest
from django.utils import timezone

from monitor.models import Check, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import deliveries, slack_texts, wait_for
from tests.service.faults import SlowTarget

# Case 12: its sites' interval and beat's pause; set the pause lower only to
# iterate on the test itself.
SHORT_INTERVAL = 3
BEAT_PAUSE = float(os.environ.get("UPTIME_TEST_BEAT_PAUSE", "75"))


def check_times(site: Site) -> list:
    return list(site.checks.order_by("checked_at").values_list("checked_at", flat=True))


@pytest.mark.timeout(180)
def test_11_two_beats_check_every_site_once_per_interval_and_alert_once(processes, slack):
    """Case 11: two beat processes tick at once (twice the dispatches and
    sweeps): each site is still checked once per interval, and the one
    transition is announced once."""
    with SlowTarget() as steady, SlowTarget(status=503) as failing:
        for n in range(20):
            site_create(project=alice_project(), url=steady.url(n), interval=10, timeout=2)
        down = site_create(project=alice_project(), url=failing.url(), interval=10, timeout=2)
        processes.env["UPTIME_BEAT_LOG_LEVEL"] = "INFO"  # each beat logs its ticks
        processes.worker(concurrency=2)
        processes.beat("beat1")
        processes.beat("beat2")
        started = timezone.now()
        time.sleep(45)
        elapsed = (timezone.now() - started).total_seconds()

        logs = processes.logs()
        for beat in ("beat1.log", "beat2.log"):
            section = logs.split(f"--- {beat}")[1].split("--- ")[0]
            ticks = section.count("Sending due task dispatch-due-checks")
            assert ticks >= 15, f"{beat} ticked {ticks} times"
        for site in Site.objects.all():
            times = check_times(site)
            gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
            assert 3 <= len(times) <= elapsed // 10 + 1, (site.url, len(times))
            # A doubled check would come within a second of the other; the
            # first gap may be short, as the rhythm counts from the due time.
            assert min(gaps) > 5, (site.url, gaps)
        wait_for(lambda: slack_texts(slack), timeout=30, what="the alert")
        time.sleep(6)
        transition = Transition.objects.get()
        assert transition.site == down
        assert len(slack_texts(slack)) == 1
        assert deliveries(transition) == [("slack", "sent")]


@pytest.mark.timeout(BEAT_PAUSE + 180)
def test_12_after_beat_was_stopped_for_a_long_while_each_site_is_checked_once(processes):
    """Case 12: beat stopped for 75 s with sites due every 3 s (25 missed
    intervals of each site, 75 missed dispatcher ticks), then restarted: each
    overdue site is checked once, then at its own rhythm again — not once per
    missed tick. (Production's shortest interval is 10 s; the claim's rule,
    monitor.dispatch.next_due_time, is the same for any interval.)"""
    with SlowTarget() as target:
        for n in range(20):
            site_create(project=alice_project(), url=target.url(n), interval=10, timeout=2)
        # Below the form's minimum, so the pause misses many intervals in a
        # short test; the dispatcher reads the column as it is.
        Site.objects.update(interval=SHORT_INTERVAL)
        processes.worker(concurrency=2)
        processes.beat()
        wait_for(lambda: Check.objects.values("site").distinct().count() == 20,
                 timeout=40, what="the first round")  # fmt: skip
        processes.stop("beat")
        time.sleep(5)  # checks already queued finish
        before = {site.id: site.checks.count() for site in Site.objects.all()}

        time.sleep(BEAT_PAUSE)
        assert Check.objects.count() == sum(before.values())  # nothing ran without beat
        restarted = timezone.now()
        processes.beat()
        wait_for(
            lambda: Site.objects.filter(last_checked_at__gt=restarted).count() == 20,
            timeout=30,
            what="every overdue site's check",
        )
        time.sleep(2 * SHORT_INTERVAL)  # a burst of catch-up checks would show by now
        elapsed = (timezone.now() - restarted).total_seconds()
        for site in Site.objects.all():
            times = [t for t in check_times(site) if t > restarted]
            gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
            assert site.checks.count() == before[site.id] + len(times), site.url
            # Once per missed tick would be many checks a second apart at most;
            # once, then the site's own rhythm, is checks SHORT_INTERVAL apart.
            assert 1 <= len(times) <= elapsed // SHORT_INTERVAL + 1, (site.url, len(times))
            assert all(gap > SHORT_INTERVAL / 2 for gap in gaps), (site.url, gaps)
            # The rhythm counts from the latest claim: a check claimed and not
            # yet recorded has moved next_check_at on from its claim, while
            # last_checked_at is still the check before it.
            rhythm_from = site.claimed_at or site.last_checked_at
            assert (site.next_check_at - rhythm_from).total_seconds() <= SHORT_INTERVAL + 1, (
                site.url,
                site.claimed_at,
                site.last_checked_at,
                site.next_check_at,
            )
