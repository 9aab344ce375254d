"""POST /api/site/<id>/ack: 201 the first time, 200 with the same answer after, 409 if up."""

import pytest
from rest_framework.test import APIClient

from notifications.models import Acknowledgement
from sites.models import Site
from teams.models import Role
from teams.services import personal_project_ensure
from teams.tokens import token_create
from tests.factories import alice_project
from tests.notifications.incidents import down_site, member


@pytest.fixture
def project(user):
    return alice_project()


def client_of(user) -> APIClient:
    _, key = token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_acknowledging_a_down_site_answers_who_when_and_how(api_client, project):
    site, incident = down_site(project)

    answer = api_client.post(f"/api/site/{site.pk}/ack")

    assert answer.status_code == 201
    ack = Acknowledgement.objects.get()
    assert ack.transition == incident
    assert answer.json() == {
        "acknowledgedBy": "alice",
        "acknowledgedAt": ack.at.isoformat().replace("+00:00", "Z"),
        "via": "api",
    }


def test_a_second_acknowledgement_answers_200_with_the_first(api_client, project):
    site, _ = down_site(project)
    editor = member(project, Role.EDITOR, "erin")
    first = api_client.post(f"/api/site/{site.pk}/ack/").json()

    again = client_of(editor).post(f"/api/site/{site.pk}/ack")

    assert again.status_code == 200
    assert again.json() == first
    assert Acknowledgement.objects.count() == 1


def test_a_site_that_is_not_down_answers_409_saying_so(api_client, project):
    site = Site.objects.create(project=project, url="https://up.example.invalid", status="up")

    answer = api_client.post(f"/api/site/{site.pk}/ack")

    assert answer.status_code == 409
    assert answer.json() == {"detail": f"{site} is not down: there is nothing to acknowledge."}
    assert not Acknowledgement.objects.exists()


def test_another_projects_site_is_a_404(api_client, django_user_model):
    mallory = django_user_model.objects.create_user(username="mallory", password="x-pass-1")
    site, _ = down_site(personal_project_ensure(user=mallory))

    answer = api_client.post(f"/api/site/{site.pk}/ack")

    assert answer.status_code == 404
    assert not Acknowledgement.objects.exists()


@pytest.mark.parametrize("site_id", ["999999", "abc", "1" * 25])
def test_a_missing_or_malformed_id_is_a_404(api_client, site_id):
    assert api_client.post(f"/api/site/{site_id}/ack").status_code == 404


def test_a_viewer_gets_a_403(project):
    site, _ = down_site(project)
    viewer = member(project, Role.VIEWER, "vic")

    answer = client_of(viewer).post(f"/api/site/{site.pk}/ack")

    assert answer.status_code == 403
    assert not Acknowledgement.objects.exists()


def test_without_credentials_it_is_refused(anon_client, project):
    site, _ = down_site(project)

    assert anon_client.post(f"/api/site/{site.pk}/ack").status_code in (401, 403)
    assert not Acknowledgement.objects.exists()


def test_only_post_is_allowed(api_client, project):
    site, _ = down_site(project)

    assert api_client.get(f"/api/site/{site.pk}/ack").status_code == 405
    assert not Acknowledgement.objects.exists()
