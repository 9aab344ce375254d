"""The sites API's locations: which locations check a site, its quorum, and what each sees."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from monitor.models import Location
from sites.models import Site
from sites.services import site_create
from teams.models import Membership, Role
from teams.services import project_create
from teams.tokens import token_create
from tests.factories import alice_project
from tests.monitor.location_helpers import live_location, seen_as, stale_location

pytestmark = pytest.mark.django_db


@pytest.fixture
def three():
    return [
        live_location("eu-west", "Frankfurt"),
        live_location("us-east", "Virginia"),
        live_location("ap-south", "Mumbai"),
    ]


@pytest.fixture
def site(three):
    return site_create(
        project=alice_project(),
        url="http://127.0.0.1:8001/health",
        locations=[loc.name for loc in three],
    )


def post_site(client, body):
    return client.post("/api/site", body, format="json")


def client_of(user) -> APIClient:
    _, key = token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- input -------------------------------------------------------------------------


def test_a_site_is_added_with_its_locations_quorum_and_regional_alerts(api_client, three):
    response = post_site(
        api_client,
        {
            "url": "http://127.0.0.1:8001/",
            "locations": ["us-east", "eu-west"],
            "quorum": 2,
            "notifyRegional": True,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["locations"] == ["eu-west", "us-east"]
    assert body["quorum"] == 2 and body["notifyRegional"] is True
    site = Site.objects.get(pk=body["id"])
    assert sorted(site.locations.values_list("name", flat=True)) == ["eu-west", "us-east"]


def test_without_locations_a_site_is_checked_from_every_enabled_one_by_majority(api_client):
    body = post_site(api_client, {"url": "http://127.0.0.1:8001/"}).json()

    assert body["locations"] == [] and body["quorum"] is None and body["notifyRegional"] is False


@pytest.mark.parametrize(
    "locations",
    [["nowhere"], ["eu-west", "nowhere"], ["off"], "eu-west", [["eu-west"]], ["x" * 65]],
)
def test_an_unknown_or_disabled_location_is_a_400_naming_locations(api_client, three, locations):
    Location.objects.create(name="off", enabled=False)

    response = post_site(api_client, {"url": "http://127.0.0.1:8001/", "locations": locations})

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"locations"}
    assert not Site.objects.exists()


@pytest.mark.parametrize("quorum", [0, 65, -1, "x", 1.5, [2]])
def test_a_quorum_out_of_range_is_a_400_naming_quorum(api_client, site, quorum):
    created = post_site(api_client, {"url": "http://127.0.0.1:8002/", "quorum": quorum})
    patched = api_client.patch(f"/api/site/{site.pk}", {"quorum": quorum}, format="json")

    for response in (created, patched):
        assert response.status_code == 400, response.content
        assert set(response.json()) == {"quorum"}
    site.refresh_from_db()
    assert site.quorum is None


def test_a_non_boolean_notify_regional_is_a_400_naming_it(api_client, site):
    response = api_client.patch(f"/api/site/{site.pk}", {"notifyRegional": "maybe"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"notifyRegional"}


def test_patch_changes_locations_and_quorum_and_leaves_the_rest(api_client, site):
    url = f"/api/site/{site.pk}"

    response = api_client.patch(url, {"locations": ["ap-south"], "quorum": 1}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["locations"] == ["ap-south"] and response.json()["quorum"] == 1
    assert response.json()["url"] == "http://127.0.0.1:8001/health"
    # Back to every location and a majority; a name alone still patches as before.
    response = api_client.patch(url, {"locations": [], "quorum": None}, format="json")
    assert response.json()["locations"] == [] and response.json()["quorum"] is None
    assert api_client.patch(url, {"name": "renamed"}, format="json").json()["locations"] == []


def test_a_disabled_location_a_site_names_stays_until_it_is_changed(api_client, site, three):
    Location.objects.filter(name="ap-south").update(enabled=False)

    response = api_client.patch(f"/api/site/{site.pk}", {"name": "still fine"}, format="json")

    assert response.status_code == 200
    assert response.json()["locations"] == ["ap-south", "eu-west", "us-east"]


# --- output ------------------------------------------------------------------------


def test_location_states_come_from_each_locations_view(api_client, site, three):
    eu, us, ap = three
    seen_as(site, eu, "down", last_error_kind="timeout", last_error_message="No answer in 10 s")
    seen_as(site, us, "up")
    seen_as(site, ap, "up")

    body = api_client.get(f"/api/site/{site.pk}").json()

    states = {s["location"]: s for s in body["locationStates"]}
    assert list(states) == ["eu-west", "us-east", "ap-south"]
    assert states["eu-west"]["label"] == "Frankfurt"
    assert states["eu-west"]["status"] == "down"
    assert states["eu-west"]["error"] == {"kind": "timeout", "message": "No answer in 10 s"}
    assert states["us-east"] | {"lastCheckedAt": None} == {
        "location": "us-east",
        "label": "Virginia",
        "status": "up",
        "lastCheckedAt": None,
        "responseMs": 120,
        "statusCode": 200,
        "error": None,
        "voting": True,
        "stale": False,
    }
    assert states["us-east"]["lastCheckedAt"].endswith("Z")
    assert body["regionalProblem"] == {"locations": ["eu-west"], "voting": 3}


def test_a_failure_seen_by_the_quorum_is_not_a_regional_problem(api_client, site, three):
    eu, us, ap = three
    seen_as(site, eu, "down")
    seen_as(site, us, "down")
    seen_as(site, ap, "up")

    body = api_client.get(f"/api/site/{site.pk}").json()

    assert body["regionalProblem"] is None


def test_a_stale_location_neither_votes_nor_counts_towards_the_majority(api_client, three):
    eu, us, _ = three
    quiet = stale_location("sa-east", "São Paulo")
    site = site_create(
        project=alice_project(),
        url="http://127.0.0.1:8003/",
        locations=["eu-west", "us-east", "sa-east"],
    )
    seen_as(site, eu, "down")
    seen_as(site, us, "up")
    seen_as(site, quiet, "down")

    body = api_client.get(f"/api/site/{site.pk}").json()

    states = {s["location"]: s for s in body["locationStates"]}
    assert states["sa-east"]["stale"] is True and states["sa-east"]["voting"] is False
    assert states["eu-west"]["stale"] is False and states["eu-west"]["voting"] is True
    # Two voting: eu-west alone is not a majority of them.
    assert body["regionalProblem"] == {"locations": ["eu-west"], "voting": 2}


def test_a_quorum_of_one_makes_any_failure_the_sites_not_a_regional_one(api_client, site, three):
    site.quorum = 1
    site.save(update_fields=["quorum"])
    seen_as(site, three[0], "down")
    seen_as(site, three[1], "up")

    assert api_client.get(f"/api/site/{site.pk}").json()["regionalProblem"] is None


def test_a_site_checked_from_one_location_shows_its_own_state_under_that_name(api_client):
    one = live_location("eu-west", "Frankfurt")
    site = site_create(project=alice_project(), url="http://127.0.0.1:8004/", locations=["eu-west"])
    Site.objects.filter(pk=site.pk).update(
        status="up", last_response_ms=87, last_status_code=204, last_checked_at=one.last_seen_at
    )

    body = api_client.get(f"/api/site/{site.pk}").json()

    [state] = body["locationStates"]
    assert state["location"] == "eu-west" and state["label"] == "Frankfurt"
    assert state["status"] == "up" and state["responseMs"] == 87 and state["statusCode"] == 204
    assert state["voting"] is True and state["stale"] is False
    assert body["regionalProblem"] is None


def test_the_list_reads_every_sites_locations_in_a_fixed_number_of_queries(api_client, three):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get("/api/site")
        assert response.status_code == 200
        return len(queries)

    first = site_create(
        project=alice_project(), url="http://127.0.0.1:8010/", locations=["eu-west"]
    )
    seen_as(first, three[0], "down")
    list_queries()  # the first request of a token does a little more
    few = list_queries()
    for port in range(8011, 8016):
        more = site_create(
            project=alice_project(),
            url=f"http://127.0.0.1:{port}/",
            locations=["us-east", "eu-west"],
        )
        seen_as(more, three[1], "up")
        seen_as(more, three[0], "down")

    assert list_queries() == few
    sites = api_client.get("/api/site").json()["sites"]
    assert all(s["regionalProblem"] for s in sites[1:])


def test_a_member_of_another_project_sees_nothing_of_a_sites_locations(site, three):
    seen_as(site, three[0], "down")
    bob = get_user_model().objects.create_user(username="bob", password="s3cret-pass")
    theirs = project_create(name="Bob's", user=bob)
    Membership.objects.get_or_create(project=theirs, user=bob, defaults={"role": Role.OWNER})
    bob_client = client_of(bob)

    assert bob_client.get(f"/api/site/{site.pk}").status_code == 404
    listed = bob_client.get("/api/site").json()["sites"]
    assert listed == []
    patched = bob_client.patch(f"/api/site/{site.pk}", {"locations": []}, format="json")
    assert patched.status_code == 404
    assert sorted(site.locations.values_list("name", flat=True)) == [
        "ap-south",
        "eu-west",
        "us-east",
    ]


def test_a_location_that_has_not_reported_yet_shows_unknown_and_does_not_vote(
    api_client, site, three
):
    seen_as(site, three[0], "up")
    seen_as(site, three[1], "up")

    states = api_client.get(f"/api/site/{site.pk}").json()["locationStates"]

    assert [(s["location"], s["status"], s["voting"]) for s in states] == [
        ("eu-west", "up", True),
        ("us-east", "up", True),
        ("ap-south", "unknown", False),
    ]
