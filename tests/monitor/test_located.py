"""Checks from several locations: routing, remote probes, recording, the quorum.

Each location probes through the real task path (send_probes → probe_checks
at the location → record_probes at the central side; Celery is eager here),
from its own loopback source address, against a local server that answers
by the client's address. The service suite runs the same with three real
worker processes (tests/service/test_locations_e2e.py).
"""

import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from werkzeug import Response

from monitor import locations
from monitor.models import Check, Location, SiteLocation, Transition
from monitor.policy import MUTE, decide
from monitor.probe import ProbeResult, _bind_source
from monitor.recording import record_results
from monitor.tasks import pack, record_probes, send_probes
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

ADDRESSES = {"eu": "127.0.0.2", "us": "127.0.0.3", "ap": "127.0.0.4"}


@pytest.fixture
def places(db):
    """Three live remote locations; the central side does not check."""
    Location.objects.update_or_create(id=1, defaults={"name": "default", "enabled": False})
    now = timezone.now()
    return {name: Location.objects.create(name=name, last_seen_at=now) for name in ADDRESSES}


@pytest.fixture
def failing_for(httpserver):
    """A target that answers 503 to the client addresses in the set, 200 to others."""
    failing: set[str] = set()

    def answer(request):
        return Response("no", status=503) if request.remote_addr in failing else Response("ok")

    httpserver.expect_request("/").respond_with_handler(answer)
    return failing


@pytest.fixture
def site(places, httpserver):
    return site_create(project=alice_project(), url=httpserver.url_for("/"), failure_threshold=1)


def check_from(name: str, site: Site, claim) -> None:
    """One round from one location, through the tasks a real round uses."""
    location = Location.objects.get(name=name)
    with override_settings(
        UPTIME_LOCATION=name,
        UPTIME_LOCATION_TOKEN=locations.location_token(location),
        UPTIME_SOURCE_ADDRESS=ADDRESSES[name],
    ):
        send_probes(location, [site.id], claim=claim)


def a_round(site: Site, names=("eu", "us", "ap")):
    claim = timezone.now()
    Site.objects.filter(id=site.id).update(claimed_at=claim)  # as the dispatcher does
    for name in names:
        check_from(name, site, claim)
    site.refresh_from_db()
    return claim


def test_every_location_records_its_own_check(site, failing_for):
    a_round(site)
    located = Check.objects.filter(site=site).values_list("location__name", flat=True)
    assert sorted(located) == ["ap", "eu", "us"]
    assert site.status == Site.Status.UP
    assert not Transition.objects.filter(site=site).exists()


def test_a_failure_seen_from_one_of_three_is_a_regional_problem_and_not_alerted(site, failing_for):
    a_round(site)
    failing_for.add(ADDRESSES["eu"])
    a_round(site)
    assert site.status == Site.Status.DEGRADED
    assert "Down from eu (1 of 3 locations)" in site.last_error_message
    [transition] = Transition.objects.filter(site=site)
    assert (transition.to_status, transition.regional, transition.locations) == (
        "degraded",
        True,
        "eu",
    )
    verdict = decide(transition, now=timezone.now())
    assert verdict.action == MUTE and "regional" in verdict.reason


def test_the_owner_who_asked_is_told_of_a_regional_problem(site, failing_for):
    Site.objects.filter(id=site.id).update(notify_regional=True)
    a_round(site)
    failing_for.add(ADDRESSES["eu"])
    a_round(site)
    [transition] = Transition.objects.filter(site=site)
    assert transition.regional
    assert decide(transition, now=timezone.now()).action != MUTE


def test_a_failure_seen_from_two_of_three_makes_one_down_naming_them(site, failing_for):
    a_round(site)
    failing_for.update({ADDRESSES["eu"], ADDRESSES["us"]})
    a_round(site)
    a_round(site)  # a second round changes nothing
    assert site.status == Site.Status.DOWN
    downs = Transition.objects.filter(site=site, to_status="down")
    assert [(t.from_status, t.locations, t.regional) for t in downs] == [
        ("degraded", "eu,us", False)
    ]
    # Regional on the way (eu first), then down once us agreed: two changes, one alert.
    assert list(
        Transition.objects.filter(site=site).order_by("id").values_list("to_status", flat=True)
    ) == ["degraded", "down"]
    assert decide(downs[0], now=timezone.now()).action != MUTE


def test_the_same_claim_from_the_same_location_is_recorded_once(site, failing_for):
    claim = timezone.now()
    check_from("eu", site, claim)
    check_from("eu", site, claim)  # a redelivered message
    assert Check.objects.filter(site=site).count() == 1


def test_each_location_keeps_its_own_view_round_after_round(site, failing_for):
    first = a_round(site)
    failing_for.add(ADDRESSES["eu"])
    Site.objects.filter(id=site.id).update(failure_threshold=2)
    a_round(site)
    last = a_round(site)
    views = {v.location.name: v for v in SiteLocation.objects.filter(site=site)}
    eu, us = views["eu"], views["us"]
    assert (eu.status, eu.failures_in_a_row, eu.successes_in_a_row) == ("down", 2, 0)
    assert (eu.last_status_code, eu.last_error_kind) == (503, "http_status")
    assert "503" in eu.last_error_message
    assert eu.last_claim == last and eu.status_changed_at == eu.last_checked_at
    assert (us.status, us.failures_in_a_row, us.successes_in_a_row) == ("up", 0, 3)
    assert (us.last_status_code, us.last_error_kind, us.last_error_message) == (200, "", "")
    assert us.last_claim == last and us.status_changed_at < eu.status_changed_at
    assert first < last and len(views) == 3


def test_only_the_locations_a_site_chose_vote(site, places, failing_for):
    site.locations.set([places["eu"], places["us"]])
    a_round(site)
    failing_for.update({ADDRESSES["eu"], ADDRESSES["ap"]})
    a_round(site)  # ap's failure is not a vote: 1 of 2 is regional
    assert site.status == Site.Status.DEGRADED
    assert Transition.objects.get(site=site).locations == "eu"


def test_a_stale_location_stops_counting_and_the_quorum_adapts(site, failing_for):
    a_round(site)
    failing_for.add(ADDRESSES["eu"])
    a_round(site)
    assert site.status == Site.Status.DEGRADED  # 1 of 3: regional
    long_ago = timezone.now() - timedelta(hours=1)
    Location.objects.filter(name__in=["us", "ap"]).update(last_seen_at=long_ago)
    assert [loc for loc, _ in locations.route([site.id])] == [Location.objects.get(name="eu")]
    a_round(site, names=["eu"])
    assert site.status == Site.Status.DOWN  # 1 of 1
    assert Transition.objects.filter(site=site, to_status="down").get().locations == "eu"


def test_a_location_that_cannot_reach_anything_does_not_vote(
    places, httpserver, failing_for, settings
):
    settings.UPTIME_OUTAGE_MIN_SITES = 3
    project = alice_project()
    sites = [
        site_create(project=project, url=httpserver.url_for("/") + f"?n={n}", failure_threshold=1)
        for n in range(3)
    ]
    ids = [s.id for s in sites]
    claim = timezone.now()
    for name in ("eu", "us"):
        with override_settings(
            UPTIME_LOCATION=name,
            UPTIME_LOCATION_TOKEN=locations.location_token(places[name]),
            UPTIME_SOURCE_ADDRESS=ADDRESSES[name],
        ):
            send_probes(places[name], ids, claim=claim)
    # ap sends from an address this machine does not have: every connect fails.
    with override_settings(
        UPTIME_LOCATION="ap",
        UPTIME_LOCATION_TOKEN=locations.location_token(places["ap"]),
        UPTIME_SOURCE_ADDRESS="192.0.2.1",
    ):
        send_probes(places["ap"], ids, claim=claim)
    places["ap"].refresh_from_db()
    assert places["ap"].network_down_since is not None
    assert set(
        SiteLocation.objects.filter(location=places["ap"]).values_list("status", flat=True)
    ) == {"down"}
    assert set(Site.objects.filter(id__in=ids).values_list("status", flat=True)) == {"up"}
    assert not Transition.objects.filter(site_id__in=ids).exists()


def test_results_not_signed_by_their_location_are_dropped(site):
    payload = {"location": "eu", "claim": None, "results": pack([])}
    assert record_probes(payload, "0" * 64) == 0
    forged = {
        "location": "eu",
        "claim": None,
        "results": [[site.id, timezone.now().isoformat(), False, 503, 1, "http_status", "x", None]],
    }
    token_of_us = locations.location_token(Location.objects.get(name="us"))
    assert record_probes(forged, locations.sign(forged, token_of_us)) == 0
    assert not Check.objects.filter(site=site).exists()


def test_one_location_only_keeps_the_single_location_rules(places, httpserver, failing_for):
    Location.objects.filter(name__in=["us", "ap"]).update(enabled=False)
    site = site_create(project=alice_project(), url=httpserver.url_for("/"), failure_threshold=1)
    Site.objects.filter(id=site.id).update(claimed_at=timezone.now())
    site.refresh_from_db()
    failing_for.add(ADDRESSES["eu"])
    check_from("eu", site, site.claimed_at)
    site.refresh_from_db()
    assert site.status == Site.Status.DOWN
    assert not SiteLocation.objects.filter(site=site).exists()
    assert Check.objects.get(site=site).location.name == "eu"


@pytest.mark.django_db(transaction=True)
def test_locations_reporting_at_once_decide_each_change_once():
    """Three locations (separate connections) report the same change together,
    round after round: one down per outage, one up per recovery, never twice."""
    Location.objects.update_or_create(id=1, defaults={"name": "default", "enabled": False})
    now = timezone.now()
    ids = [Location.objects.create(name=name, last_seen_at=now).id for name in ADDRESSES]
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/race", failure_threshold=1)
    rounds, errors = 6, []
    for round_no in range(rounds):
        up = round_no % 2 == 1  # down, up, down, ...
        barrier = threading.Barrier(len(ids))
        claim = timezone.now()

        def report(location_id, up=up, barrier=barrier, claim=claim):
            result = ProbeResult(
                up=up,
                checked_at=timezone.now(),
                status_code=200 if up else 503,
                error_kind="" if up else "http_status",
                site_id=site.id,
                location_id=location_id,
            )
            try:
                barrier.wait()
                record_results([result], claim=claim)
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=report, args=(i,)) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert Check.objects.filter(site=site).count() == len(ids) * rounds
    changes = list(Transition.objects.filter(site=site).order_by("id"))
    assert [t.to_status for t in changes].count("down") == rounds // 2 + rounds % 2
    assert [t.to_status for t in changes].count("up") == rounds // 2
    assert all(a.to_status != b.to_status for a, b in zip(changes, changes[1:], strict=False))


@pytest.mark.skipif(not hasattr(socket, "IP_BIND_ADDRESS_NO_PORT"), reason="Linux only")
def test_a_source_address_leaves_the_port_to_connect(httpserver):
    """bind() to a location's source address takes the address only: a port
    picked at bind must be unused by every socket on that address, and ran
    out at hundreds of checks a second; connect() picks one per destination."""
    with override_settings(UPTIME_SOURCE_ADDRESS=ADDRESSES["eu"]), socket.socket() as sock:
        assert _bind_source(sock, socket.AF_INET)
        assert sock.getsockname() == (ADDRESSES["eu"], 0)
        sock.connect(("127.0.0.1", httpserver.port))
        assert sock.getsockname()[0] == ADDRESSES["eu"]
        assert sock.getsockname()[1] != 0
