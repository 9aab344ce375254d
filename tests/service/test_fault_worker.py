"""Faults in the workers: killed pool processes and workers, a task that
crashes its process, a warm shutdown. Each case states what it proves."""

import os
import signal
import time
import warnings

from monitor.models import Check, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import deliveries, slack_texts, wait_for
from tests.service.faults import SlowTarget, pool_children
from uptime.models import TaskRedelivery
from uptime.reliability import MAX_REDELIVERIES


def checks_per_site() -> dict[int, int]:
    counts = dict.fromkeys(Site.objects.values_list("id", flat=True), 0)
    for site_id in Check.objects.values_list("site_id", flat=True):
        counts[site_id] += 1
    return counts


def test_1_a_pool_process_killed_during_a_check_runs_it_again_once(processes, slack):
    """Case 1: a pool process SIGKILLed mid-check hands its message back (late
    ack, reject on worker lost); the check runs again and is recorded once,
    with one transition and one alert."""
    with SlowTarget(delay=3, status=503) as target:
        site = site_create(project=alice_project(), url=target.url(), interval=3600, timeout=10)
        worker = processes.worker(concurrency=1)
        processes.beat()
        wait_for(lambda: target.requests >= 1, timeout=30, what="the check to reach the target")
        [child] = wait_for(lambda: pool_children(worker.pid), timeout=5, what="the pool process")
        os.kill(child, signal.SIGKILL)

        wait_for(lambda: Check.objects.filter(site=site).exists(), timeout=30, what="the re-run")
        wait_for(lambda: slack_texts(slack), timeout=15, what="the alert")
        time.sleep(4)  # anything doubled would show now
        assert target.requests == 2  # probed again after the kill …
        assert Check.objects.filter(site=site).count() == 1  # … recorded once
        [transition] = Transition.objects.filter(site=site)
        assert len(slack_texts(slack)) == 1
        assert deliveries(transition) == [("slack", "sent")]
        # It came back through the broker (not a later schedule): counted once.
        assert TaskRedelivery.objects.get().redeliveries == 1


def test_2_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(processes, slack):
    """Case 2: the whole worker SIGKILLed with batches running and queued; a new
    worker redoes the lost work within the visibility timeout (30 s here), and
    every site has exactly one check for its one due time."""
    with SlowTarget(delay=2) as target:
        for n in range(40):
            site_create(project=alice_project(), url=target.url(n), interval=3600, timeout=5)
        processes.env["UPTIME_DISPATCH_BATCH"] = "5"
        processes.worker(concurrency=2)
        processes.beat()
        wait_for(lambda: Check.objects.count() >= 5, timeout=30, what="some checks recorded")
        processes.stop("worker", sig=signal.SIGKILL)
        killed_at = time.monotonic()
        recorded_before = Check.objects.count()
        assert recorded_before < 40, "the kill came too late to lose anything"

        processes.worker(name="worker2", concurrency=2)
        wait_for(
            lambda: Check.objects.count() == 40,
            timeout=90,
            what="every site checked after the kill",
        )
        took = time.monotonic() - killed_at
        time.sleep(5)
        assert set(checks_per_site().values()) == {1}, checks_per_site()
        assert took < 30 + 10 + 20  # visibility timeout + restore sweep + the work itself
        print(f"lost work redone {took:.1f} s after the kill ({recorded_before} were recorded)")


def test_3_a_task_that_crashes_its_process_is_given_up_while_work_flows(
    processes, target, tmp_path
):
    """Case 3: a message that SIGKILLs every pool process that takes it runs
    1 + MAX_REDELIVERIES times, is then dropped with an error, and checks of
    other sites go on meanwhile."""
    from uptime.celery import app

    runs = tmp_path / "runs.txt"
    sites = [
        site_create(project=alice_project(), url=f"{target.url}?n={n}", interval=10, timeout=2)
        for n in range(5)
    ]
    processes.worker("worker", 2, "--include", "tests.service.crashing_tasks")
    processes.beat()
    wait_for(lambda: Check.objects.count() >= 5, timeout=30, what="the first round of checks")
    with warnings.catch_warnings():  # the test process itself runs tasks eagerly
        warnings.simplefilter("ignore")
        app.send_task("tests.service.crashing_tasks.crash_my_process", args=[str(runs)])

    wait_for(
        lambda: runs.exists() and len(runs.read_text().split()) >= MAX_REDELIVERIES + 1,
        timeout=60,
        what="the redeliveries",
    )
    checks_at_give_up = Check.objects.count()
    time.sleep(12)  # past the next interval: no further runs, checks go on
    assert len(runs.read_text().split()) == MAX_REDELIVERIES + 1
    assert TaskRedelivery.objects.get().redeliveries == MAX_REDELIVERIES + 1
    assert Check.objects.count() >= checks_at_give_up + len(sites)
    assert "Giving up task tests.service.crashing_tasks.crash_my_process" in processes.logs()


def test_4_a_warm_shutdown_finishes_running_checks_and_hands_back_the_rest(processes):
    """Case 4: SIGTERM during checks: running tasks finish and are recorded;
    queued messages go back to the broker; a new worker does them; each site
    is checked exactly once."""
    with SlowTarget(delay=3) as target:
        for n in range(30):
            site_create(project=alice_project(), url=target.url(n), interval=3600, timeout=10)
        processes.env["UPTIME_DISPATCH_BATCH"] = "5"
        worker = processes.worker(concurrency=2)
        processes.beat()
        wait_for(lambda: target.requests >= 10, timeout=30, what="two batches in flight")
        in_flight = target.requests - Check.objects.count()
        os.kill(worker.pid, signal.SIGTERM)  # the main process: a warm shutdown
        worker.wait(timeout=60)
        finished = Check.objects.count()
        assert finished >= in_flight  # the running batches finished and were recorded
        assert finished < 30, "the shutdown came too late to leave work queued"

        processes.worker(name="worker2", concurrency=2)
        wait_for(lambda: Check.objects.count() == 30, timeout=60, what="the rest of the checks")
        time.sleep(4)
        assert set(checks_per_site().values()) == {1}
        assert target.requests == 30  # nothing was probed twice
