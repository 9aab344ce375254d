"""The signed link in an alert (/ack/<token>) and the site page's Acknowledge button."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client
from django.utils import timezone

from monitor.models import Transition
from notifications import acks
from notifications.models import Acknowledgement
from sites.models import Site
from teams.models import AuditEvent, Role
from teams.services import personal_project_ensure
from tests.factories import alice, alice_project
from tests.notifications.incidents import down_site, member


@pytest.fixture
def project(db):
    return alice_project()


@pytest.fixture
def incident(project):
    return down_site(project, minutes_ago=12)


def path_of(transition) -> str:
    return "/ack/" + acks.ack_link(transition).rsplit("/", 1)[1]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_opening_the_link_shows_a_confirmation_and_changes_nothing(incident):
    site, transition = incident
    page = logged_in(alice()).get(path_of(transition))

    assert page.status_code == 200
    assert f"Acknowledge {site.url}?" in page.text
    assert transition.created_at.strftime("%Y-%m-%d %H:%M:%S") in page.text
    assert "HTTP 503 Service Unavailable" in page.text
    assert '<button type="submit" class="btn">Acknowledge</button>' in page.text
    assert 'name="csrfmiddlewaretoken"' in page.text
    # Mail clients and chat apps prefetch links: a GET must never acknowledge.
    assert not Acknowledgement.objects.exists()
    assert not AuditEvent.objects.filter(action=acks.SITE_ACKNOWLEDGED).exists()


def test_posting_the_confirmation_acknowledges_and_goes_to_the_site_page(incident):
    site, transition = incident
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice())
    page = client.get(path_of(transition))
    csrf = page.context["csrf_token"]

    answer = client.post(path_of(transition), {"csrfmiddlewaretoken": str(csrf)})

    assert answer.status_code == 302
    assert answer["Location"] == f"/sites/{site.pk}"
    ack = Acknowledgement.objects.get()
    assert (ack.transition, ack.by_name, ack.via) == (transition, "alice", "link")
    after = client.get(path_of(transition))
    assert "Acknowledged by <strong>alice</strong>" in after.text
    assert "<button" not in after.text.split('class="card narrow"')[1]


def test_a_post_without_the_csrf_token_is_refused(incident):
    _, transition = incident
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice())

    assert client.post(path_of(transition)).status_code == 403
    assert not Acknowledgement.objects.exists()


def test_the_link_asks_for_a_login_first(incident):
    _, transition = incident
    path = path_of(transition)

    answer = Client().get(path)

    assert answer.status_code == 302
    assert answer["Location"].startswith("/login?next=/ack/")
    assert Client().post(path).status_code == 302
    assert not Acknowledgement.objects.exists()


def test_another_projects_member_gets_a_404(incident):
    _, transition = incident
    stranger = get_user_model().objects.create_user(username="mallory", password="x-pass-1")
    personal_project_ensure(user=stranger)  # a member of her own project only

    assert logged_in(stranger).get(path_of(transition)).status_code == 404
    assert logged_in(stranger).post(path_of(transition)).status_code == 404
    assert not Acknowledgement.objects.exists()


def test_a_viewer_sees_the_incident_but_may_not_acknowledge_it(project, incident):
    _, transition = incident
    viewer = logged_in(member(project, Role.VIEWER, "vic"))

    page = viewer.get(path_of(transition))
    assert page.status_code == 200
    assert "Only a project editor or above may acknowledge" in page.text
    assert viewer.post(path_of(transition)).status_code == 403
    assert not Acknowledgement.objects.exists()


def test_an_expired_link_answers_a_clear_400(incident):
    _, transition = incident
    path = path_of(transition)

    with time_machine.travel(timezone.now() + timedelta(days=8)):
        page = logged_in(alice()).get(path)

    assert page.status_code == 400
    assert "This acknowledgement link has expired" in page.text


@pytest.mark.parametrize("token", ["garbage", "eyJ0IjoxfQ:1uAAAA:forged"])
def test_a_forged_link_answers_a_clear_400(incident, token):
    page = logged_in(alice()).get(f"/ack/{token}")

    assert page.status_code == 400
    assert "This acknowledgement link is not valid" in page.text


def test_a_link_to_a_deleted_or_non_down_transition_is_a_404(project, incident):
    _, transition = incident
    up = Transition.objects.create(site=transition.site, from_status="down", to_status="up")
    token = signing.dumps({"t": 987654}, salt=acks.LINK_SALT)

    assert logged_in(alice()).get(f"/ack/{token}").status_code == 404
    assert logged_in(alice()).get(path_of(up)).status_code == 404


def test_the_link_of_a_recovered_incident_says_it_is_over(incident):
    site, transition = incident
    Site.objects.filter(pk=site.pk).update(status=Site.Status.UP)
    client = logged_in(alice())

    page = client.get(path_of(transition))
    assert page.status_code == 200
    assert "This incident is over" in page.text
    refused = client.post(path_of(transition))
    assert refused.status_code == 409
    assert "is not down" in refused.text
    assert not Acknowledgement.objects.exists()


def test_the_site_page_offers_acknowledge_while_down(incident):
    site, _ = incident
    page = logged_in(alice()).get(f"/sites/{site.pk}")

    assert f'action="/sites/{site.pk}/ack"' in page.text
    assert "Acknowledged by" not in page.text


def test_the_site_page_button_acknowledges_and_then_names_who_and_when(incident):
    site, transition = incident
    client = logged_in(alice())

    answer = client.post(f"/sites/{site.pk}/ack", follow=True)

    ack = Acknowledgement.objects.get()
    assert (ack.transition, ack.via) == (transition, "page")
    assert "Acknowledged by <strong>alice</strong>" in answer.text
    assert ack.at.strftime("%Y-%m-%d %H:%M") in answer.text
    assert f'action="/sites/{site.pk}/ack"' not in answer.text


def test_the_site_page_offers_nothing_when_the_site_is_up(project):
    site = Site.objects.create(project=project, url="https://up.example.invalid", status="up")

    page = logged_in(alice()).get(f"/sites/{site.pk}")

    assert "/ack" not in page.text
    assert "Acknowledged by" not in page.text


def test_the_site_page_button_on_an_up_site_says_why(project):
    site = Site.objects.create(project=project, url="https://up.example.invalid", status="up")

    answer = logged_in(alice()).post(f"/sites/{site.pk}/ack", follow=True)

    assert "is not down: there is nothing to acknowledge" in answer.text
    assert not Acknowledgement.objects.exists()


def test_a_viewer_sees_no_button_and_cannot_post_it(project, incident):
    site, _ = incident
    viewer = logged_in(member(project, Role.VIEWER, "vic"))

    page = viewer.get(f"/sites/{site.pk}")
    assert "Not acknowledged yet." in page.text
    assert f'action="/sites/{site.pk}/ack"' not in page.text
    assert viewer.post(f"/sites/{site.pk}/ack").status_code == 403


def test_the_site_page_button_only_posts(incident):
    site, _ = incident

    assert logged_in(alice()).get(f"/sites/{site.pk}/ack").status_code == 405
    assert not Acknowledgement.objects.exists()
