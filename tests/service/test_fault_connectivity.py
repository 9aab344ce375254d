"""Uptime loses its network: one connectivity message, not thirty "down" alerts.

What this proves, with a real worker and beat on PostgreSQL and Redis: when
every target stops answering at once (their servers are stopped, so every
connection is refused, as when Uptime's own network is gone), the Slack
stand-in receives exactly one "Uptime cannot reach 30 of 30 sites" message
and no per-site "down" alert; when the network comes back it receives one
"network is back" message, no per-site "back up" for the sites that recovered,
and the ordinary "down" alert for each site that is really still down, so no
real outage is lost. The held alerts travel through the ordinary task retries
(the settle period) and the sweeper (the incident's end).
"""

import re
import time

import pytest

from monitor.models import ConnectivityIncident, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import Target, slack_texts, wait_for

SITES_PER_TARGET = 10
# A site's down alert in Slack: its URL (it has no name) and "is down", in bold.
DOWN_ALERT = re.compile(r"\*(\S+) is down\*")


@pytest.fixture
def targets():
    targets = [Target() for _ in range(3)]
    for target in targets:
        target.server.start()
    yield targets
    for target in targets:
        target.server.clear()
        if target.server.is_running():
            target.server.stop()


def kinds(texts: list[str]) -> dict[str, int]:
    return {
        "cannot reach": sum("cannot reach" in text for text in texts),
        "network is back": sum("network is back" in text for text in texts),
        "is down": sum(bool(DOWN_ALERT.match(text)) for text in texts),
        "back up": sum("is back up" in text for text in texts),
    }


def test_13_losing_every_target_at_once_sends_one_connectivity_message_then_one_back_message(
    processes, targets, slack
):
    sites = [
        site_create(project=alice_project(), url=f"{target.url}?n={n}", interval=10, timeout=2)
        for target in targets
        for n in range(SITES_PER_TARGET)
    ]
    processes.env.update(
        {"UPTIME_OUTAGE_SETTLE": "5", "UPTIME_OUTAGE_MIN_SITES": "10", "UPTIME_SWEEP_EVERY": "5"}
    )
    processes.worker(concurrency=2)
    processes.beat()
    wait_for(
        lambda: Site.objects.filter(status="up").count() == len(sites),
        timeout=40,
        what="every site's first check (up)",
    )

    for target in targets:
        target.server.stop()  # every connection refused at once
    wait_for(
        lambda: Site.objects.filter(status="down").count() == len(sites),
        timeout=30,
        what="every site to be recorded down",
    )
    wait_for(lambda: slack_texts(slack), timeout=30, what="the connectivity message")
    time.sleep(8)  # past the settle period and a sweep: any per-site alert would be here
    texts = slack_texts(slack)
    assert kinds(texts) == {"cannot reach": 1, "network is back": 0, "is down": 0, "back up": 0}, (
        texts
    )
    # Normally all 30 in the window; never fewer than the minimum, all of those checked.
    unreachable, checked = re.search(
        r"cannot reach (\d+) of (\d+) sites at once", texts[0]
    ).groups()
    assert int(unreachable) == int(checked) >= 10
    assert set(Transition.objects.values_list("notification_status", flat=True)) == {"withheld"}

    # The network is back, but one target (ten sites) really is down now.
    for target in targets[:2]:
        target.server.start()
    wait_for(
        lambda: ConnectivityIncident.objects.filter(is_open=False).exists(),
        timeout=60,
        what="the connectivity incident to end",
    )
    wait_for(
        lambda: kinds(slack_texts(slack))["is down"] == SITES_PER_TARGET,
        timeout=60,
        what="the alerts of the sites still down",
    )
    time.sleep(8)  # past another sweep: nothing more arrives
    texts = slack_texts(slack)
    assert kinds(texts) == {
        "cannot reach": 1,
        "network is back": 1,
        "is down": SITES_PER_TARGET,
        "back up": 0,
    }, texts
    assert "10 sites are still down" in texts[1]
    still_down = {site.url for site in Site.objects.filter(status="down")}
    assert still_down == {site.url for site in sites[2 * SITES_PER_TARGET :]}
    alerted = {DOWN_ALERT.match(text).group(1) for text in texts[2:]}
    assert alerted == still_down
    incident = ConnectivityIncident.objects.get()
    assert (incident.opened_notice, incident.ended_notice, incident.sites_still_down) == (
        "sent",
        "sent",
        SITES_PER_TARGET,
    )
