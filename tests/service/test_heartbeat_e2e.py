"""A heartbeat monitor with real parts: beat → the evaluator → record → the Slack
stand-in says down; a ping through gunicorn → up, and Slack says so."""

import time
from datetime import timedelta

import requests
from django.utils import timezone

from monitor.models import Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import deliveries, slack_texts, wait_for


def site_status(site: Site) -> str:
    site.refresh_from_db()
    return site.status


def test_a_missed_heartbeat_is_announced_down_and_a_ping_brings_it_back_up(processes, slack, web):
    site = site_create(
        project=alice_project(),
        kind="heartbeat",
        name="nightly backup",
        options={"period": 60, "grace": 0},
        failure_threshold=1,
    )
    # Made a minute and a bit ago: its first deadline has just passed.
    Site.objects.filter(id=site.id).update(created_at=timezone.now() - timedelta(seconds=61))
    processes.env["UPTIME_HEARTBEAT_EVERY"] = "1"
    processes.worker()
    processes.beat()
    web.start()

    wait_for(lambda: site_status(site) == "down", timeout=30, what="the missed deadline")
    wait_for(lambda: slack_texts(slack), timeout=15, what="the down message")
    [down] = slack_texts(slack)
    assert "nightly backup" in down and "is down" in down
    assert "No ping since the monitor was created" in down

    response = requests.post(web.url(f"/ping/{site.ping_token}"), timeout=10)
    assert (response.status_code, response.text) == (200, "OK\n")

    assert site_status(site) == "up"  # recorded within the request
    wait_for(lambda: len(slack_texts(slack)) >= 2, timeout=15, what="the back-up message")
    time.sleep(3)  # the evaluator ticks every second: anything doubled would arrive now
    texts = slack_texts(slack)
    assert len(texts) == 2, texts
    assert "back up" in texts[1]
    transitions = list(Transition.objects.order_by("id"))
    assert [t.to_status for t in transitions] == ["down", "up"]
    assert [deliveries(t) for t in transitions] == [[("slack", "sent")]] * 2
