"""Three locations as three probe processes on this machine (issue 13).

Each location is a Celery worker consuming only its own queue, started with
UPTIME_LOCATION, its token and a loopback source address of its own
(127.0.0.2, .3, .4), a Redis user allowed only its own queue and pushing to
the locations' queue, and a database URL that points nowhere: a location
needs the broker, never the database. The central worker records and decides; the
target answers by the client's address, so a site can fail for some
locations only.
"""

import secrets
from urllib.parse import urlsplit

import pytest
import redis
from django.test import override_settings
from pytest_httpserver import HTTPServer
from werkzeug import Response

from monitor import locations
from monitor.models import Location, SiteLocation, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.service.conftest import REDIS_URL, slack_texts, wait_for
from uptime.broker import LOCATIONS_QUEUE

ADDRESSES = {"eu": "127.0.0.2", "us": "127.0.0.3", "ap": "127.0.0.4"}
QUICK = {"UPTIME_LOCATION_HEARTBEAT_EVERY": "1", "UPTIME_LOCATION_STALE_AFTER": "6"}


class ByAddress:
    """A target answering 503 to the client addresses in `failing`, 200 to the others."""

    def __init__(self):
        self.failing: set[str] = set()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/").respond_with_handler(self._answer)

    def _answer(self, request) -> Response:
        if request.remote_addr in self.failing:
            return Response("failing", status=503)
        return Response("ok")

    def fail_for(self, *names: str) -> None:
        self.failing = {ADDRESSES[name] for name in names}


@pytest.fixture
def by_address():
    target = ByAddress()
    target.server.start()
    yield target
    target.server.clear()
    target.server.stop()


@pytest.fixture
def places(processes, settings):
    """eu, us and ap; the central side records and decides but does not probe."""
    Location.objects.update_or_create(id=1, defaults={"name": "default", "enabled": False})
    processes.env.update(QUICK)
    settings.UPTIME_LOCATION_STALE_AFTER = int(QUICK["UPTIME_LOCATION_STALE_AFTER"])
    return {name: Location.objects.create(name=name) for name in ADDRESSES}


@pytest.fixture
def broker_users():
    """Redis users as the README tells operators to make them for a location:
    its own queue, pushing to the locations' queue, and nothing else."""
    client = redis.Redis.from_url(REDIS_URL)
    made = []

    def make(name: str) -> str:
        user, password = f"uptime-test-location-{name}", secrets.token_hex(16)
        client.execute_command(
            "ACL", "SETUSER", user, "reset", "on", f">{password}",
            f"~{locations.queue_name(name)}", f"%W~{LOCATIONS_QUEUE}",
            "-@all", "+brpop", "+lpush", "+ping", "+select", "+hello",
        )  # fmt: skip
        made.append(user)
        url = urlsplit(REDIS_URL)
        return f"redis://{user}:{password}@{url.hostname}:{url.port}{url.path}"

    yield make
    for user in made:
        client.execute_command("ACL", "DELUSER", user)


def start_location(processes, location: Location, *, source: str, broker: str) -> None:
    # The token the central processes (with the suite's SECRET_KEY) will accept.
    with override_settings(SECRET_KEY=processes.env["SECRET_KEY"]):
        token = locations.location_token(location)
    processes.worker(
        f"probe-{location.name}",
        4,
        "--pool",
        "threads",
        "--without-heartbeat",
        # No --queues: with UPTIME_LOCATION set, a worker consumes probe.<name> only.
        env={
            "UPTIME_LOCATION": location.name,
            "UPTIME_LOCATION_TOKEN": token,
            "UPTIME_SOURCE_ADDRESS": source,
            "CELERY_BROKER_URL": broker,
            # Nothing listens there: a probe that touched the database would fail.
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing",
        },
    )


def live(*names: str) -> bool:
    found = {location.name for location in Location.objects.all() if locations.is_live(location)}
    return found == set(names)


def status(site: Site) -> str:
    site.refresh_from_db()
    return site.status


def seen(site: Site) -> dict[str, str]:
    rows = SiteLocation.objects.filter(site=site).values_list("location__name", "status")
    return dict(rows)


def test_three_locations_decide_by_quorum(processes, places, by_address, slack, broker_users):
    site = site_create(
        project=alice_project(),
        url=by_address.server.url_for("/"),
        interval=10,
        timeout=2,
        failure_threshold=1,
    )
    processes.worker()
    processes.beat()
    for location in places.values():
        start_location(
            processes,
            location,
            source=ADDRESSES[location.name],
            broker=broker_users(location.name),
        )
    wait_for(lambda: live("eu", "us", "ap"), timeout=30, what="three locations reporting")
    wait_for(
        lambda: seen(site) == {"eu": "up", "us": "up", "ap": "up"},
        timeout=30,
        what="a check from each location",
    )
    assert status(site) == "up"

    # One of three: a regional problem, shown, not alerted.
    by_address.fail_for("eu")
    wait_for(lambda: status(site) == "degraded", timeout=30, what="a regional problem")
    assert "Down from eu (1 of 3 locations)" in site.last_error_message
    regional = Transition.objects.get(site=site, to_status="degraded")
    assert regional.regional and regional.locations == "eu"
    wait_for(
        lambda: regional.attempts.exists() or _refreshed(regional).notification_status != "pending",
        timeout=20,
        what="the regional change to be decided",
    )
    assert _refreshed(regional).notification_status == "muted"

    # Two of three: down, one alert naming them.
    by_address.fail_for("eu", "us")
    wait_for(lambda: status(site) == "down", timeout=30, what="down by quorum")
    wait_for(lambda: slack_texts(slack), timeout=20, what="the down alert")
    down = Transition.objects.get(site=site, to_status="down")
    assert sorted(down.locations.split(",")) == ["eu", "us"]
    [message] = slack_texts(slack)
    assert "eu" in message and "us" in message

    # Everyone can reach it again: back up.
    by_address.fail_for()
    wait_for(lambda: status(site) == "up", timeout=30, what="back up")

    # us and ap stop: they go stale, and eu alone decides (1 of 1).
    processes.stop("probe-us")
    processes.stop("probe-ap")
    wait_for(lambda: live("eu"), timeout=30, what="us and ap to go stale")
    by_address.fail_for("eu")
    wait_for(lambda: status(site) == "down", timeout=30, what="down from the one live location")
    latest = Transition.objects.filter(site=site, to_status="down").order_by("-id").first()
    assert latest.locations == "eu" and not latest.regional


def test_a_location_that_cannot_reach_anything_does_not_vote(
    processes, places, by_address, slack, broker_users
):
    processes.env.update({"UPTIME_OUTAGE_MIN_SITES": "3"})
    project = alice_project()
    sites = [
        site_create(
            project=project,
            url=by_address.server.url_for("/") + f"?n={n}",
            interval=10,
            timeout=2,
            failure_threshold=1,
        )
        for n in range(3)
    ]
    processes.worker()
    processes.beat()
    for name in ("eu", "us"):
        start_location(processes, places[name], source=ADDRESSES[name], broker=broker_users(name))
    # 192.0.2.1 (TEST-NET-1) is not this machine's: binding to it fails, so
    # every check from ap fails at the network level without sending anything.
    start_location(processes, places["ap"], source="192.0.2.1", broker=broker_users("ap"))
    wait_for(lambda: live("eu", "us", "ap"), timeout=30, what="three locations reporting")
    wait_for(
        lambda: Location.objects.get(name="ap").network_down_since is not None,
        timeout=40,
        what="ap's own network to be found down",
    )
    wait_for(
        lambda: all(seen(s).get("eu") == "up" and seen(s).get("ap") == "down" for s in sites),
        timeout=30,
        what="every site checked from eu and ap",
    )
    # Until ap's network was found down, its failures were a regional problem
    # (shown, muted); once it was, it stopped voting and every site is up.
    wait_for(lambda: {status(s) for s in sites} == {"up"}, timeout=30, what="every site up")
    changes = Transition.objects.filter(site__in=sites)
    assert not changes.filter(to_status="down").exists()
    assert all(t.regional or t.to_status == "up" for t in changes)
    assert not slack_texts(slack)


def _refreshed(transition: Transition) -> Transition:
    transition.refresh_from_db()
    return transition
