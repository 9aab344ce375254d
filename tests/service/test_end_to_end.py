"""The whole monitor with real parts: beat → dispatcher → worker → record →
transition → signal → notification task → the Slack stand-in."""

import time
from datetime import timedelta

from django.utils import timezone

from monitor.models import Check, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import deliveries, slack_texts, wait_for


def site_status(site: Site) -> str:
    site.refresh_from_db()
    return site.status


def test_a_site_is_checked_without_a_trigger_and_each_change_is_announced_once(
    processes, target, slack
):
    site = site_create(project=alice_project(), url=target.url, interval=10, timeout=2)
    processes.worker()
    processes.beat()

    wait_for(lambda: site_status(site) == "up", timeout=30, what="the first check (up)")
    assert Transition.objects.count() == 0  # a first success is not a change

    target.status = 503
    wait_for(lambda: site_status(site) == "down", timeout=25, what="the site to go down")
    wait_for(lambda: slack_texts(slack), timeout=15, what="the down message")
    # Let at least one more failing check happen: still one message.
    checks_so_far = Check.objects.filter(site=site).count()
    wait_for(
        lambda: Check.objects.filter(site=site).count() > checks_so_far,
        timeout=25,
        what="another failing check",
    )
    texts = slack_texts(slack)
    assert len(texts) == 1, texts
    assert "is down" in texts[0] and "503" in texts[0]

    target.status = 200
    wait_for(lambda: site_status(site) == "up", timeout=25, what="the site to come back")
    wait_for(lambda: len(slack_texts(slack)) >= 2, timeout=15, what="the back-up message")
    time.sleep(3)  # anything doubled would arrive now
    texts = slack_texts(slack)
    assert len(texts) == 2, texts
    assert "back up" in texts[1]
    transitions = list(Transition.objects.order_by("created_at"))
    assert [t.notification_status for t in transitions] == ["sent", "sent"]  # routed
    assert [deliveries(t) for t in transitions] == [[("slack", "sent")]] * 2


def test_the_sweeper_delivers_a_transition_whose_message_was_lost(processes, target, slack):
    site = site_create(project=alice_project(), url=target.url, interval=3600, enabled=False)
    # A committed transition whose Celery message never went out (a crash
    # between commit and enqueue): only the database knows about it.
    # It happened a few minutes ago: the sweeper leaves young transitions to
    # the normal path for a grace period.
    Transition.objects.create(
        site=site,
        from_status="up",
        to_status="down",
        created_at=timezone.now() - timedelta(minutes=5),
    )
    processes.worker()
    processes.beat()
    wait_for(lambda: slack_texts(slack), timeout=30, what="the sweeper's delivery")
    time.sleep(6)  # past another sweep: still one message
    assert len(slack_texts(slack)) == 1
    transition = Transition.objects.get()
    assert transition.notification_status == "sent"
    assert deliveries(transition) == [("slack", "sent")]


def test_many_sites_are_checked_in_batches_by_a_real_worker(processes, target):
    sites = [
        site_create(project=alice_project(), url=f"{target.url}?n={n}", interval=60)
        for n in range(120)
    ]
    processes.worker(concurrency=2)
    processes.beat()
    wait_for(
        lambda: Site.objects.filter(status="up").count() == len(sites),
        timeout=60,
        what="every site's first check",
    )
    time.sleep(3)  # beat keeps ticking every second: nothing is checked twice
    assert Check.objects.count() == len(sites)
