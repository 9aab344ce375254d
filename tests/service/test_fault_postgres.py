"""Faults in PostgreSQL: restarted during a burst, unreachable exactly when a
failure is being recorded, and a transaction that rolls back. Cases 8 and 9
restart or stop the machine's cluster and always start it again."""

import contextlib
import time
from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.db import connection, transaction
from django.utils import timezone

from monitor.models import Check, Transition
from monitor.probe import ProbeResult
from monitor.recording import record_results
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import deliveries, slack_texts, wait_for
from tests.service.faults import SlowTarget, pg_ctl, postgres_comes_back, raw_postgres_connection

pytestmark = pytest.mark.timeout(300)


def all_checked_since(moment) -> bool:
    return Site.objects.filter(last_checked_at__gt=moment).count() == Site.objects.count()


def test_8_a_postgres_restart_during_a_burst_heals_without_restarting_anything(
    processes, web, slack
):
    """Case 8: PostgreSQL restarted while checks run: tasks that lost their
    connection retry, beat and the workers go on without a restart, the web
    app answers its very next request, and no site is checked twice."""
    with SlowTarget(delay=0.2) as target, postgres_comes_back():
        for n in range(40):
            site_create(project=alice_project(), url=target.url(n), interval=10, timeout=2)
        running = [processes.worker(concurrency=2), processes.beat()]
        web.start()
        wait_for(lambda: all_checked_since(timezone.now() - timedelta(hours=1)),
                 timeout=40, what="the first round")  # fmt: skip

        pg_ctl("restart")
        restarted = timezone.now()
        answer = web.api("GET", "/api/status")  # the first request after the restart
        assert answer.status_code == 200, answer.text

        wait_for(lambda: all_checked_since(restarted), timeout=60, what="checks after restart")
        assert all(process.poll() is None for process in running)  # nothing was restarted
        for site in Site.objects.all():
            times = list(site.checks.order_by("checked_at").values_list("checked_at", flat=True))
            gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
            assert min(gaps, default=10) > 5, (site.url, gaps)  # never checked twice at once
        assert Transition.objects.count() == 0 and slack_texts(slack) == []


def test_9_no_alert_for_a_transition_that_was_never_committed(processes, slack):
    """Case 9: PostgreSQL goes away exactly while a failure is being recorded
    (the recorder waits on the site's row, which the test holds, then the
    server stops): nothing is committed and nothing is sent; after recovery
    the check is recorded and announced once."""
    with SlowTarget(delay=2, status=503) as target, postgres_comes_back():
        site = site_create(project=alice_project(), url=target.url(), interval=3600, timeout=10)
        processes.worker(concurrency=1)
        processes.beat()
        wait_for(lambda: target.requests >= 1, timeout=30, what="the probe to start")

        holder = raw_postgres_connection()
        holder.execute("SELECT id FROM sites_site WHERE id = %s FOR UPDATE", [site.id])

        def recorder_waiting() -> bool:
            row = holder.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            return row[0] > 0

        wait_for(recorder_waiting, timeout=30, what="the recorder to wait on the site's row")
        pg_ctl("stop")
        with contextlib.suppress(Exception):
            holder.close()
        time.sleep(10)
        assert slack_texts(slack) == []  # the transition was never committed

        pg_ctl("start")
        wait_for(lambda: slack_texts(slack), timeout=90, what="the alert after recovery")
        time.sleep(6)
        assert Check.objects.filter(site=site).count() == 1
        [transition] = Transition.objects.filter(site=site)
        assert len(slack_texts(slack)) == 1
        assert deliveries(transition) == [("slack", "sent")]


@contextlib.contextmanager
def publishing_for_real():
    """Let this (eager) test process publish to the real broker, recording what it sends."""
    from uptime.celery import app

    published = []

    def record(sender=None, **kwargs):
        published.append(sender)

    before_task_publish.connect(record, weak=False)
    app.conf.task_always_eager = False
    try:
        yield published
    finally:
        app.conf.task_always_eager = True
        before_task_publish.disconnect(record)


def test_10_a_rolled_back_transition_sends_no_task_and_no_message(processes, slack):
    """Case 10: the transaction that would create a transition rolls back: no
    task is published and no message is sent. The same result committed is
    announced once (so the test would see a message if one were sent)."""
    site = site_create(
        project=alice_project(), url="http://127.0.0.1:9/", interval=3600, enabled=False
    )
    processes.worker(concurrency=1)

    def failure():
        return ProbeResult(
            up=False, checked_at=timezone.now(), error_message="refused", site_id=site.id
        )

    with publishing_for_real() as published:
        with pytest.raises(RuntimeError), transaction.atomic():
            assert len(record_results([failure()])) == 1
            raise RuntimeError("the surrounding work failed")
        assert Transition.objects.count() == 0
        time.sleep(4)
        assert published == [] and slack_texts(slack) == []

        record_results([failure()])
        # One routing task, after commit (main after 549bedc routes in batches).
        assert published in (
            ["notifications.tasks.send_notification"],
            ["notifications.tasks.route_transitions"],
        )
        wait_for(lambda: slack_texts(slack), timeout=30, what="the committed transition's alert")
        time.sleep(3)
        assert len(slack_texts(slack)) == 1
    connection.close()
