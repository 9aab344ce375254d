"""Monitor kinds and alert policy with the real parts: beat, worker, PostgreSQL,
Redis and the Slack stand-in (issue 10). The heartbeat's own run is in
test_heartbeat_e2e.py."""

import time
from datetime import timedelta

from django.utils import timezone

from monitor.maintenance import maintenance_create
from monitor.models import Transition
from notifications.models import Notification
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import slack_texts, wait_for


def site_status(site: Site) -> str:
    site.refresh_from_db()
    return site.status


def test_a_keyword_monitor_goes_down_when_the_page_loses_its_keyword(processes, target, slack):
    target.body = "<h1>All systems go</h1>"
    site = site_create(
        project=alice_project(),
        url=target.url,
        options={"keyword": "All systems go"},
        interval=10,
        timeout=2,
    )
    processes.worker()
    processes.beat()
    wait_for(lambda: site_status(site) == "up", timeout=30, what="the first check (up)")

    target.body = "<h1>Under maintenance</h1>"  # still HTTP 200
    wait_for(lambda: site_status(site) == "down", timeout=25, what="the keyword to be missed")
    wait_for(lambda: slack_texts(slack), timeout=15, what="the down message")
    [message] = slack_texts(slack)
    assert "is down" in message and "All systems go" in message

    target.body = "<h1>All systems go</h1>"
    wait_for(lambda: len(slack_texts(slack)) == 2, timeout=40, what="the back-up message")
    assert "back up" in slack_texts(slack)[1]


def test_a_site_down_inside_a_maintenance_window_is_recorded_but_not_alerted(
    processes, target, slack
):
    site = site_create(project=alice_project(), url=target.url, interval=10, timeout=2)
    processes.worker()
    processes.beat()
    wait_for(lambda: site_status(site) == "up", timeout=30, what="the first check (up)")
    now = timezone.now()
    maintenance_create(
        project=site.project,
        title="Database upgrade",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(minutes=30),
        sites=[site],
    )

    target.status = 503
    wait_for(lambda: site_status(site) == "down", timeout=25, what="the site to go down")
    wait_for(
        lambda: Transition.objects.filter(site=site, notification_status="muted").exists(),
        timeout=20,
        what="the down alert to be muted",
    )
    time.sleep(3)  # a message sent anyway would have arrived by now
    assert slack_texts(slack) == []
    assert not Notification.objects.filter(site=site).exists()  # never routed
