"""Tags on monitors: through the API, the add and edit forms, and sites.services."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from sites.models import Site, Tag
from sites.services import MAX_TAGS, site_create, site_update
from teams.models import AuditEvent
from teams.services import personal_project_ensure
from tests.factories import alice_project
from tests.teams.pages_helpers import make_user

pytestmark = pytest.mark.django_db


def post_site(client, body):
    return client.post("/api/site", body, format="json")


def names(site: Site) -> list[str]:
    return sorted(site.tags.values_list("name", flat=True))


def test_a_site_added_with_tags_creates_them_in_its_project_and_answers_them(api_client):
    response = post_site(
        api_client, {"url": "http://127.0.0.1:8001/", "tags": ["production", "api"]}
    )

    assert response.status_code == 201
    assert response.json()["tags"] == ["api", "production"]
    site = Site.objects.get(pk=response.json()["id"])
    assert names(site) == ["api", "production"]
    assert set(Tag.objects.values_list("project_id", flat=True)) == {alice_project().pk}


def test_a_tag_is_reused_whatever_its_case_and_spacing(api_client):
    first = post_site(api_client, {"url": "http://127.0.0.1:8001/", "tags": ["Production"]})
    second = post_site(
        api_client, {"url": "http://127.0.0.1:8002/", "tags": ["  production ", "PRODUCTION"]}
    )

    assert first.status_code == second.status_code == 201
    assert second.json()["tags"] == ["Production"]
    assert Tag.objects.count() == 1


def test_patch_replaces_the_tags_and_an_empty_list_removes_them(api_client):
    site_id = post_site(api_client, {"url": "http://127.0.0.1:8001/", "tags": ["a", "b"]}).json()[
        "id"
    ]

    changed = api_client.patch(f"/api/site/{site_id}", {"tags": ["b", "c"]}, format="json")
    cleared = api_client.patch(f"/api/site/{site_id}", {"tags": []}, format="json")

    assert changed.json()["tags"] == ["b", "c"]
    assert cleared.json()["tags"] == []
    event = AuditEvent.objects.filter(action="site.changed").order_by("id").first()
    assert event.detail["tags"] == {"from": ["a", "b"], "to": ["b", "c"]}


def test_patch_without_tags_keeps_them(api_client):
    site_id = post_site(api_client, {"url": "http://127.0.0.1:8001/", "tags": ["keep"]}).json()[
        "id"
    ]

    response = api_client.patch(f"/api/site/{site_id}", {"name": "Renamed"}, format="json")

    assert response.json()["tags"] == ["keep"]


@pytest.mark.parametrize(
    "tags",
    [
        ["x" * 51],
        [f"t{n}" for n in range(MAX_TAGS + 1)],
        [""],
        ["   "],
        ["a,b"],
        "production",
        [["nested"]],
        [None],
    ],
)
def test_bad_tags_answer_400_naming_the_field_and_add_nothing(api_client, tags):
    response = post_site(api_client, {"url": "http://127.0.0.1:8001/", "tags": tags})

    assert response.status_code == 400
    assert "tags" in response.json()
    assert not Site.objects.exists()
    assert not Tag.objects.exists()


def test_the_site_list_answers_each_sites_tags(api_client):
    post_site(api_client, {"url": "http://127.0.0.1:8001/", "tags": ["one"]})
    post_site(api_client, {"url": "http://127.0.0.1:8002/"})

    sites = api_client.get("/api/site").json()["sites"]

    assert [site["tags"] for site in sites] == [["one"], []]


def test_tags_of_two_projects_are_apart(user):
    bob = make_user("bob")
    mine = site_create(project=alice_project(), url="http://127.0.0.1:8001/", tags=["shared"])
    theirs = site_create(
        project=personal_project_ensure(user=bob), url="http://127.0.0.1:8001/", tags=["shared"]
    )

    assert mine.tags.get().pk != theirs.tags.get().pk
    assert mine.tags.get().project_id == alice_project().pk


def test_the_service_refuses_a_21st_tag_on_update_and_keeps_the_old_ones(user):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8001/", tags=["old"])

    with pytest.raises(ValidationError) as caught:
        site_update(site=site, tags=[f"t{n}" for n in range(MAX_TAGS + 1)])

    assert "tags" in caught.value.message_dict
    assert names(site) == ["old"]


def test_new_tags_get_a_hex_colour(user):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8001/", tags=["blue"])

    color = site.tags.get().color
    assert len(color) == 7 and color.startswith("#")
    int(color[1:], 16)


# --- forms -----------------------------------------------------------------------


def test_the_add_form_takes_comma_separated_tags(client, user):
    client.force_login(user)

    response = client.post(
        reverse("site_add"),
        {
            "kind": "http",
            "url": "http://127.0.0.1:8001/",
            "interval": "60",
            "timeout": "10",
            "tags": "production, api,, eu-west ",
        },
    )

    assert response.status_code == 302
    assert names(Site.objects.get()) == ["api", "eu-west", "production"]


def test_the_add_form_shows_a_bad_tag_next_to_the_field(client, user):
    client.force_login(user)

    response = client.post(
        reverse("site_add"),
        {
            "kind": "http",
            "url": "http://127.0.0.1:8001/",
            "interval": "60",
            "timeout": "10",
            "tags": "x" * 60,
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_tags_error"' in page and "at most 50 characters" in page
    assert not Site.objects.exists()


def test_the_edit_form_shows_and_changes_the_tags(client, user):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8001/", tags=["a", "b"])
    client.force_login(user)

    form = client.get(reverse("site_edit", args=[site.pk])).content.decode()
    response = client.post(
        reverse("site_edit", args=[site.pk]),
        {"name": "", "interval": "60", "timeout": "10", "tags": "b, c"},
    )

    assert 'value="a, b"' in form
    assert response.status_code == 302
    assert names(site) == ["b", "c"]
