"""notifications.acks: which incident is current, who may acknowledge it, once, and its link."""

from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from monitor.models import Transition
from notifications import acks
from notifications.models import Acknowledgement
from sites.models import Site
from teams.models import AuditEvent, Role
from tests.factories import alice, alice_project
from tests.notifications.incidents import down_site, member


@pytest.fixture
def project(db):
    return alice_project()


def test_the_current_incident_is_the_latest_down_transition(project):
    site, first = down_site(project, minutes_ago=30)
    Transition.objects.create(
        site=site,
        from_status="down",
        to_status="up",
        created_at=timezone.now() - timedelta(minutes=20),
    )
    latest = Transition.objects.create(
        site=site,
        from_status="up",
        to_status="down",
        created_at=timezone.now() - timedelta(minutes=10),
    )

    assert acks.current_incident(site) == latest


def test_a_site_that_is_not_down_has_no_current_incident(project):
    site, _ = down_site(project)
    site.status = Site.Status.UP

    assert acks.current_incident(site) is None


def test_an_editor_acknowledges_the_current_incident(project):
    site, incident = down_site(project)
    editor = member(project, Role.EDITOR, "erin")

    ack = acks.acknowledge(site=site, actor=editor, via=Acknowledgement.Via.API)

    assert ack.transition == incident
    assert (ack.by, ack.by_name, ack.via) == (editor, "erin", "api")
    assert acks.acknowledgement_of(acks.current_incident(site)) == ack


def test_a_viewer_may_not_acknowledge(project):
    site, _ = down_site(project)
    viewer = member(project, Role.VIEWER, "vic")

    with pytest.raises(PermissionDenied):
        acks.acknowledge(site=site, actor=viewer, via=Acknowledgement.Via.API)
    assert not Acknowledgement.objects.exists()


def test_a_site_that_is_not_down_cannot_be_acknowledged_and_says_why(project):
    site, _ = down_site(project)
    Site.objects.filter(pk=site.pk).update(status=Site.Status.UP)
    site.refresh_from_db()

    with pytest.raises(ValidationError) as raised:
        acks.acknowledge(site=site, actor=alice(), via=Acknowledgement.Via.PAGE)
    assert raised.value.messages == [f"{site} is not down: there is nothing to acknowledge."]


def test_a_second_acknowledgement_returns_the_first_unchanged(project):
    site, _ = down_site(project)
    editor = member(project, Role.EDITOR, "erin")
    first = acks.acknowledge(site=site, actor=alice(), via=Acknowledgement.Via.PAGE)

    second, created = acks.acknowledgement_ensure(
        site=site, actor=editor, via=Acknowledgement.Via.API
    )

    assert not created
    assert second.pk == first.pk
    assert (second.by_name, second.via, second.at) == ("alice", "page", first.at)
    assert Acknowledgement.objects.count() == 1


def test_an_acknowledgement_is_audited_once(project):
    site, incident = down_site(project)
    acks.acknowledge(site=site, actor=alice(), via=Acknowledgement.Via.PAGE)
    acks.acknowledge(site=site, actor=alice(), via=Acknowledgement.Via.API)

    event = AuditEvent.objects.get(action=acks.SITE_ACKNOWLEDGED)
    assert (event.project, event.actor_name, event.target_id) == (project, "alice", str(site.pk))
    assert event.detail == {"transition": incident.pk, "via": "page"}


def test_an_old_incident_cannot_acknowledge_a_later_one(project):
    site, old = down_site(project, minutes_ago=60)
    Transition.objects.create(
        site=site,
        from_status="down",
        to_status="up",
        created_at=timezone.now() - timedelta(minutes=50),
    )
    Transition.objects.create(
        site=site,
        from_status="up",
        to_status="down",
        created_at=timezone.now() - timedelta(minutes=5),
    )

    with pytest.raises(ValidationError, match="incident is over"):
        acks.acknowledge(site=site, actor=alice(), via="link", incident=old)
    assert not Acknowledgement.objects.exists()


def test_the_link_is_signed_under_the_base_url_and_names_the_incident(project, settings):
    settings.UPTIME_BASE_URL = "https://uptime.example.invalid/"
    _, incident = down_site(project)

    link = acks.ack_link(incident)

    prefix = "https://uptime.example.invalid/ack/"
    assert link.startswith(prefix)
    assert acks.transition_id_from_link(link.removeprefix(prefix)) == incident.pk


def test_a_link_expires_after_seven_days(project):
    _, incident = down_site(project)
    token = acks.ack_link(incident).rsplit("/", 1)[1]

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        with pytest.raises(signing.SignatureExpired):
            acks.transition_id_from_link(token)
    with time_machine.travel(timezone.now() + timedelta(days=6)):
        assert acks.transition_id_from_link(token) == incident.pk


def test_a_forged_or_foreign_token_is_refused(project):
    _, incident = down_site(project)
    token = acks.ack_link(incident).rsplit("/", 1)[1]
    other_salt = signing.dumps({"t": incident.pk}, salt="uptime.invite")

    for bad in (token[:-2] + "xx", other_salt, "not-a-token"):
        with pytest.raises(signing.BadSignature):
            acks.transition_id_from_link(bad)
