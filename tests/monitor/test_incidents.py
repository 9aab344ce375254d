"""A monitor's incidents (monitor.incidents) and their API."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from monitor.incidents import NO_REASON, incident_list, note_add
from monitor.models import Check, IncidentNote, Transition
from notifications.models import Acknowledgement
from sites.models import Site
from teams.models import Membership, Project, Role
from teams.tokens import token_create
from tests.factories import alice, alice_project

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def make_site(name="api") -> Site:
    return Site.objects.create(
        project=alice_project(), url=f"https://{name}.example.invalid/", status="up"
    )


def down_at(site, at, *, reason="Connection refused", with_check=True) -> Transition:
    check = None
    if with_check:
        check = Check.objects.create(
            site=site, checked_at=at, up=False, error_kind="connect", error_message=reason
        )
    return Transition.objects.create(
        site=site, created_at=at, from_status="up", to_status="down", check_result=check
    )


def up_at(site, at) -> Transition:
    return Transition.objects.create(site=site, created_at=at, from_status="down", to_status="up")


def test_each_downtime_is_an_incident_from_the_down_transition_to_the_next_one_leaving_down():
    site = make_site()
    first = down_at(site, T0)
    up_at(site, T0 + timedelta(minutes=15))
    second = down_at(site, T0 + timedelta(hours=2), reason="Timed out after 10 s")
    Transition.objects.create(
        site=site,
        created_at=T0 + timedelta(hours=2, minutes=3),
        from_status="down",
        to_status="degraded",
    )

    incidents, more = incident_list(site)

    assert [i.id for i in incidents] == [second.pk, first.pk]
    assert incidents[0].ended_at == T0 + timedelta(hours=2, minutes=3)
    assert incidents[0].duration() == timedelta(minutes=3)
    assert incidents[0].reason == "Timed out after 10 s"
    assert incidents[1].started_at == T0
    assert incidents[1].duration() == timedelta(minutes=15)
    assert incidents[1].reason == "Connection refused"
    assert more is False


def test_an_incident_without_a_transition_leaving_down_is_still_open():
    site = make_site()
    down_at(site, T0)

    [incident], _ = incident_list(site)

    assert incident.is_open
    assert incident.duration(T0 + timedelta(minutes=7)) == timedelta(minutes=7)


def test_the_reason_outlives_the_check_and_is_a_dash_without_one():
    site = make_site()
    down_at(site, T0, reason="Connection refused")
    Check.objects.all().delete()  # what the pruner does
    down_at(site, T0 + timedelta(hours=1), with_check=False)

    incidents, _ = incident_list(site)

    assert [i.reason for i in incidents] == [NO_REASON, "Connection refused"]


def test_an_incident_shows_who_acknowledged_it_and_its_notes_in_order():
    site = make_site()
    down = down_at(site, T0)
    Acknowledgement.objects.create(
        transition=down,
        site=site,
        by=alice(),
        by_name="alice",
        at=T0 + timedelta(minutes=2),
        via="api",
    )
    note_add(site=site, transition=down, author=alice(), text="  Restarted the database.  ")
    note_add(site=site, transition=down, author=alice(), text="Back after the restart.")

    [incident], _ = incident_list(site)

    assert incident.acknowledgement.by_name == "alice"
    assert incident.acknowledgement.via == "api"
    assert [n.text for n in incident.notes] == [
        "Restarted the database.",
        "Back after the restart.",
    ]
    assert incident.notes[0].author_name == "alice"


def test_the_list_is_three_queries_whatever_the_number_of_incidents_and_notes():
    site = make_site()
    for hour in range(30):
        down = down_at(site, T0 + timedelta(hours=hour))
        up_at(site, T0 + timedelta(hours=hour, minutes=10))
        IncidentNote.objects.create(
            site=site, transition=down, author_name="alice", text=f"note {hour}"
        )

    with CaptureQueriesContext(connection) as queries:
        incidents, more = incident_list(site, limit=20)
        [(i.reason, i.acknowledgement, len(i.notes)) for i in incidents]

    assert len(queries) == 3
    assert len(incidents) == 20 and more is True
    assert all(i.duration() == timedelta(minutes=10) for i in incidents)


def test_older_incidents_come_with_an_offset():
    site = make_site()
    downs = [down_at(site, T0 + timedelta(hours=hour)) for hour in range(5)]

    page, more = incident_list(site, limit=2, offset=4)

    assert [i.id for i in page] == [downs[0].pk]
    assert more is False


@pytest.mark.parametrize("text", ["", "   \n "])
def test_an_empty_note_is_refused(text):
    site = make_site()
    down = down_at(site, T0)

    with pytest.raises(ValidationError) as raised:
        note_add(site=site, transition=down, author=alice(), text=text)

    assert "text" in raised.value.message_dict
    assert not IncidentNote.objects.exists()


def test_a_note_over_2000_characters_is_refused():
    site = make_site()
    down = down_at(site, T0)

    with pytest.raises(ValidationError) as raised:
        note_add(site=site, transition=down, author=alice(), text="x" * 2001)

    assert "2000" in raised.value.message_dict["text"][0]


def test_a_note_on_another_sites_transition_is_refused():
    site, other = make_site("one"), make_site("two")
    down = down_at(other, T0)

    with pytest.raises(Transition.DoesNotExist):
        note_add(site=site, transition=down, author=alice(), text="Wrong site")


# --- API --------------------------------------------------------------------------


def client_of(user) -> APIClient:
    _, key = token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def member(role: str, project: Project):
    user = get_user_model().objects.create_user(username=f"{role}-user", password="s3cret-pass")
    Membership.objects.create(project=project, user=user, role=role)
    return user


def test_the_api_lists_incidents_with_their_notes(api_client):
    site = make_site()
    down = down_at(site, T0)
    up_at(site, T0 + timedelta(seconds=90))
    note_add(site=site, transition=down, author=alice(), text="Disk full")

    response = api_client.get(f"/api/site/{site.pk}/incidents")

    assert response.status_code == 200
    [incident] = response.json()["incidents"]
    assert incident["id"] == down.pk
    assert incident["durationSeconds"] == 90.0
    assert incident["reason"] == "Connection refused"
    assert incident["acknowledgement"] is None
    assert [n["text"] for n in incident["notes"]] == ["Disk full"]
    assert incident["notes"][0]["author"] == "alice"
    assert response.json()["more"] is False


def test_the_api_refuses_a_bad_limit_with_400(api_client):
    site = make_site()

    response = api_client.get(f"/api/site/{site.pk}/incidents?limit=0")

    assert response.status_code == 400
    assert "limit" in response.json()


def test_the_api_adds_a_note_with_201(api_client):
    site = make_site()
    down = down_at(site, T0)

    response = api_client.post(
        f"/api/site/{site.pk}/incidents/{down.pk}/notes", {"text": "On it"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["text"] == "On it"
    assert IncidentNote.objects.get().transition_id == down.pk


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "y" * 2001}, {}, {"text": "a", "x": 1}])
def test_the_api_refuses_a_bad_note_with_400_naming_the_field(api_client, body):
    site = make_site()
    down = down_at(site, T0)

    response = api_client.post(
        f"/api/site/{site.pk}/incidents/{down.pk}/notes", body, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) & {"text", "x"}
    assert not IncidentNote.objects.exists()


def test_a_viewer_may_read_incidents_but_not_add_notes(user):
    site = make_site()
    down = down_at(site, T0)
    viewer = client_of(member(Role.VIEWER, site.project))

    assert viewer.get(f"/api/site/{site.pk}/incidents").status_code == 200
    response = viewer.post(
        f"/api/site/{site.pk}/incidents/{down.pk}/notes", {"text": "Hi"}, format="json"
    )

    assert response.status_code == 403
    assert not IncidentNote.objects.exists()


def test_another_projects_site_and_a_wrong_incident_answer_404(user):
    site = make_site()
    down = down_at(site, T0)
    up = up_at(site, T0 + timedelta(minutes=1))
    stranger = client_of(
        get_user_model().objects.create_user(username="eve", password="pw-1234567")
    )
    owner = client_of(user)

    assert stranger.get(f"/api/site/{site.pk}/incidents").status_code == 404
    assert (
        stranger.post(
            f"/api/site/{site.pk}/incidents/{down.pk}/notes", {"text": "x"}, format="json"
        ).status_code
        == 404
    )
    # A transition that is not a downtime's start is no incident.
    for wrong in (up.pk, 999999, "abc"):
        response = owner.post(
            f"/api/site/{site.pk}/incidents/{wrong}/notes", {"text": "x"}, format="json"
        )
        assert response.status_code == 404
    assert not IncidentNote.objects.exists()
