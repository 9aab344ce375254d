"""Faults in the scheduler: two beat processes at once, and beat stopped for
ten minutes. The claim on each site (monitor.dispatch), not beat, decides what
is checked, so neither doubles nor floods the checks."""

import os
import time

import pytest
from django.utils import timezone

from monitor.models import Check, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import slack_texts, wait_for
from tests.service.faults import SlowTarget

# Case 12's pause; set lower only to iterate on the test itself.
BEAT_PAUSE = float(os.environ.get("UPTIME_TEST_BEAT_PAUSE", "600"))


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
        assert Transition.objects.get().site == down
        assert len(slack_texts(slack)) == 1


@pytest.mark.timeout(BEAT_PAUSE + 180)
def test_12_after_beat_was_stopped_for_ten_minutes_each_site_is_checked_once(processes):
    """Case 12: beat stopped for ten minutes (sixty missed intervals of these
    sites, six hundred missed dispatcher ticks), then restarted: each overdue
    site is checked once, then at its own rhythm again — not once per missed
    tick."""
    with SlowTarget() as target:
        for n in range(20):
            site_create(project=alice_project(), url=target.url(n), interval=10, timeout=2)
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
        time.sleep(3)  # well inside the 10 s interval: any extra check would show now
        for site in Site.objects.all():
            assert site.checks.count() == before[site.id] + 1, site.url
            assert (site.next_check_at - site.last_checked_at).total_seconds() <= 11
