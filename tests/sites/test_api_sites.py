"""The sites API: add, list, show, edit and delete, and every way input can be wrong."""

import pytest

from monitor.kinds import http as http_kind
from monitor.models import Check, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

SITE_KEYS = {
    "id",
    "project",
    "url",
    "name",
    "interval",
    "timeout",
    "enabled",
    "status",
    "up",
    "checkedAt",
    "nextCheckAt",
    "badgeKey",
    "tags",
    "uptime",
    "statusChangedAt",
    "statusCode",
    "responseTimeMs",
    "error",
    "createdAt",
    "kind",
    "paused",
    "failureThreshold",
    "successThreshold",
    "retryInterval",
    "dependsOn",
    "channels",
    "certExpiresAt",
    "pingUrl",
    "state",
    "locations",
    "quorum",
    "notifyRegional",
    "locationStates",
    "regionalProblem",
    # The http kind's options, flat (monitor.kinds.http).
    *(name for name in http_kind.OPTIONS if name != "url"),
}


@pytest.fixture
def site(db):
    return site_create(project=alice_project(), url="http://127.0.0.1:8001/health", name="local")


def post_site(client, body, **kwargs):
    return client.post("/api/site", body, format="json", **kwargs)


# --- adding ------------------------------------------------------------------


def test_adding_a_site_answers_201_with_the_site_in_camel_case(api_client):
    response = post_site(api_client, {"url": "http://127.0.0.1:8001/health"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == SITE_KEYS
    assert body["url"] == "http://127.0.0.1:8001/health"
    assert body["status"] == "unknown" and body["up"] is None and body["error"] is None
    assert body["interval"] == 60 and body["timeout"] == 10 and body["enabled"] is True
    assert body["checkedAt"] is None and body["nextCheckAt"] is not None
    assert Site.objects.get(pk=body["id"]).url == body["url"]


def test_adding_a_site_takes_the_optional_settings(api_client):
    response = post_site(
        api_client,
        {
            "url": "http://127.0.0.1:8001/",
            "name": "Local",
            "interval": 30,
            "timeout": 5,
            "enabled": False,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["interval"], body["timeout"], body["enabled"]) == (
        "Local",
        30,
        5,
        False,
    )


def test_a_bare_host_is_stored_as_a_normalised_https_url(api_client):
    response = post_site(api_client, {"url": "LOCALHOST:8443"})
    assert response.status_code == 201
    assert response.json()["url"] == "https://localhost:8443/"


def test_the_collection_also_answers_with_a_trailing_slash(api_client):
    response = api_client.post("/api/site/", {"url": "http://127.0.0.1:8001/"}, format="json")
    assert response.status_code == 201
    assert api_client.get("/api/site/").json()["sites"][0]["url"] == "http://127.0.0.1:8001/"


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://127.0.0.1/", "only http and https"),
        ("invalid://scheme", "only http and https"),
        ("https://", "no host"),
        ("http://127.0.0.1/" + "a" * 2000, "limit is 2000"),
        ("", "may not be blank"),
        ("http://127.0.0.1/a b", "spaces"),
    ],
)
def test_a_bad_url_is_refused_with_400_naming_the_url(api_client, url, reason):
    response = post_site(api_client, {"url": url})
    assert response.status_code == 400
    assert reason in " ".join(response.json()["url"])
    assert not Site.objects.exists()


def test_a_url_already_monitored_is_refused_even_in_another_spelling(api_client, site):
    response = post_site(api_client, {"url": "HTTP://127.0.0.1:8001/health"})
    assert response.status_code == 400
    assert "already monitored" in " ".join(response.json()["url"])
    assert Site.objects.count() == 1


def test_a_bare_host_and_its_full_url_are_the_same_site(api_client):
    assert post_site(api_client, {"url": "localhost"}).status_code == 201
    response = post_site(api_client, {"url": "https://localhost:443/"})
    assert response.status_code == 400
    assert "already monitored" in " ".join(response.json()["url"])


@pytest.mark.parametrize(
    "body, field, reason",
    [
        ({"interval": 9}, "interval", "greater than or equal to 10"),
        ({"interval": 86_401}, "interval", "less than or equal to 86400"),
        ({"interval": 10, "timeout": 20}, "timeout", "cannot be longer than the interval"),
        ({"timeout": 0}, "timeout", "greater than or equal to 1"),
        ({"interval": "abc"}, "interval", "valid integer"),
        ({"interval": 10.5}, "interval", "valid integer"),
        ({"timeout": None}, "timeout", "may not be null"),
        ({"enabled": "maybe"}, "enabled", "valid boolean"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"status": "up"}, "status", "cannot be set here"),
    ],
)
def test_bad_settings_are_refused_with_400_naming_the_field(api_client, body, field, reason):
    response = post_site(api_client, {"url": "http://127.0.0.1:8001/", **body})
    assert response.status_code == 400
    assert reason in " ".join(response.json()[field])
    assert not Site.objects.exists()


def test_a_missing_url_is_refused_with_400_naming_the_url(api_client):
    response = post_site(api_client, {"name": "no url"})
    assert response.status_code == 400
    assert response.json()["url"] == ["This field is required."]


def test_an_empty_body_is_refused_with_400_naming_the_url(api_client):
    response = api_client.post("/api/site", "", content_type="application/json")
    assert response.status_code == 400
    assert "url" in response.json()


def test_malformed_json_is_refused_with_400_saying_so(api_client):
    response = api_client.post("/api/site", '{"url": ', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_a_json_list_is_refused_with_400_asking_for_an_object(api_client):
    response = post_site(api_client, [{"url": "http://127.0.0.1:8001/"}])
    assert response.status_code == 400
    assert "Expected a dictionary, but got list" in response.json()["non_field_errors"][0]


def test_a_form_encoded_body_is_refused_as_unsupported(api_client):
    # Form parsing would read the missing "enabled" as false.
    response = api_client.post("/api/site", {"url": "http://127.0.0.1:8001/"})
    assert response.status_code == 415
    assert not Site.objects.exists()


def test_a_private_address_is_refused_when_private_targets_are_off(api_client, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    for url in ("http://127.0.0.1:9/", "http://[::1]:9/", "http://localhost:9/"):
        response = post_site(api_client, {"url": url})
        assert response.status_code == 400, url
        assert "UPTIME_ALLOW_PRIVATE_TARGETS" in " ".join(response.json()["url"])
    assert not Site.objects.exists()


# --- reading -------------------------------------------------------------------


def test_listing_answers_every_site_under_sites(api_client, site):
    other = site_create(project=alice_project(), url="http://127.0.0.1:8002/")
    response = api_client.get("/api/site")
    assert response.status_code == 200
    sites = response.json()["sites"]
    assert [s["id"] for s in sites] == [site.id, other.id]
    assert set(sites[0]) == SITE_KEYS


def test_listing_no_sites_answers_an_empty_list(api_client):
    assert api_client.get("/api/site").json() == {"sites": []}


def test_getting_a_site_answers_it(api_client, site):
    for path in (f"/api/site/{site.id}", f"/api/site/{site.id}/"):
        response = api_client.get(path)
        assert response.status_code == 200
        assert response.json()["id"] == site.id and response.json()["name"] == "local"


@pytest.mark.parametrize(
    "site_id",
    ["0", "-1", "abc", "1.5", "99999999999999999999999", "9223372036854775808", "²", "9" * 5000],
)
def test_an_id_that_names_no_site_is_404_not_500(api_client, site, site_id):
    for method in ("get", "patch", "delete"):
        response = getattr(api_client, method)(f"/api/site/{site_id}", {"name": "x"}, format="json")
        assert response.status_code == 404, (method, response.content)
        assert "detail" in response.json()
    assert Site.objects.count() == 1


def test_the_largest_64_bit_id_is_a_plain_404(api_client, site):
    assert api_client.get(f"/api/site/{2**63 - 1}").status_code == 404


# --- editing -------------------------------------------------------------------


def test_patching_changes_the_editable_fields_and_answers_the_site(api_client, site):
    response = api_client.patch(
        f"/api/site/{site.id}",
        {"name": "renamed", "interval": 120, "timeout": 30, "enabled": False},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["interval"], body["timeout"], body["enabled"]) == (
        "renamed",
        120,
        30,
        False,
    )
    site.refresh_from_db()
    assert (site.name, site.interval, site.timeout, site.enabled) == ("renamed", 120, 30, False)


def test_patching_one_field_leaves_the_others_alone(api_client, site):
    response = api_client.patch(f"/api/site/{site.id}", {"interval": 300}, format="json")
    assert response.status_code == 200
    site.refresh_from_db()
    assert (site.interval, site.name, site.timeout) == (300, "local", 10)


@pytest.mark.parametrize("field, value", [("url", "http://127.0.0.1:8009/"), ("status", "up")])
def test_patching_a_field_that_is_not_editable_is_400_naming_it(api_client, site, field, value):
    response = api_client.patch(f"/api/site/{site.id}", {field: value}, format="json")
    assert response.status_code == 400
    assert "cannot be set here" in response.json()[field][0]
    site.refresh_from_db()
    assert site.url == "http://127.0.0.1:8001/health" and site.status == "unknown"


def test_patching_with_a_readonly_field_changes_nothing_at_all(api_client, site):
    response = api_client.patch(
        f"/api/site/{site.id}", {"name": "new", "url": "http://127.0.0.1:1/"}, format="json"
    )
    assert response.status_code == 400
    site.refresh_from_db()
    assert site.name == "local"


@pytest.mark.parametrize(
    "body, field, reason",
    [
        ({"interval": 5}, "interval", "greater than or equal to 10"),
        ({"timeout": 61}, "timeout", "less than or equal to 60"),
        ({"interval": 20, "timeout": 30}, "timeout", "cannot be longer than the interval"),
        ({"enabled": "maybe"}, "enabled", "valid boolean"),
        ({"interval": "abc"}, "interval", "valid integer"),
    ],
)
def test_patching_bad_values_is_400_naming_the_field(api_client, site, body, field, reason):
    response = api_client.patch(f"/api/site/{site.id}", body, format="json")
    assert response.status_code == 400
    assert reason in " ".join(response.json()[field])
    site.refresh_from_db()
    assert (site.interval, site.timeout, site.enabled) == (60, 10, True)


@pytest.mark.parametrize("body", ["", "{}", "[]", "{bad"])
def test_patching_with_nothing_usable_is_400(api_client, site, body):
    response = api_client.patch(f"/api/site/{site.id}", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()


# --- deleting ------------------------------------------------------------------


def test_deleting_a_site_answers_204_and_takes_its_checks_and_transitions(api_client, refused_url):
    site = site_create(project=alice_project(), url=refused_url)
    assert api_client.post(f"/api/check/{site.id}").json()["up"] is False
    assert Check.objects.filter(site=site).exists()
    assert Transition.objects.filter(site=site).exists()

    response = api_client.delete(f"/api/site/{site.id}")
    assert response.status_code == 204
    assert not Site.objects.exists()
    assert not Check.objects.exists() and not Transition.objects.exists()
    assert api_client.get(f"/api/site/{site.id}").status_code == 404
    assert api_client.delete(f"/api/site/{site.id}").status_code == 404
