"""statuspages.services: the rules every way in shares (API, editor, admin)."""

import pytest
from django.core.exceptions import ValidationError

from statuspages import cache
from statuspages.models import StatusIncident, StatusPage, StatusPageGroup
from statuspages.services import (
    Group,
    MonitorEntry,
    incident_create,
    incident_delete,
    incident_update_add,
    logo_type_of,
    status_page_create,
    status_page_delete,
    status_page_update,
)
from teams.models import AuditEvent
from tests.statuspages.editor_helpers import PNG, SVG, monitors

pytestmark = pytest.mark.django_db
monitors = monitors  # the shared fixture


@pytest.fixture
def invalidated(monkeypatch):
    """The page ids the public cache was told about, in order."""
    told: list[list[int]] = []
    monkeypatch.setattr(cache, "invalidate_pages", lambda ids: told.append(list(ids)))
    return told


def page_of(m, **fields):
    values = {"slug": "acme", "title": "Acme", "sites": [m.ours[0].pk], **fields}
    return status_page_create(project=m.team.project, **values)


def test_every_write_tells_the_cache_after_it_commits_and_not_before(
    monitors, invalidated, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as pending:
        page = page_of(monitors)
    assert invalidated == []  # nothing said before the commit
    for callback in pending:
        callback()
    assert invalidated == [[page.pk]]

    with django_capture_on_commit_callbacks(execute=True):
        status_page_update(page=page, title="Renamed")
        incident = incident_create(page=page, title="Down", message="Looking.")
        incident_update_add(incident=incident, status="resolved", message="Fine.")
        incident_delete(incident=incident)
        status_page_delete(page=page_of(monitors, slug="two"))
    assert invalidated[1:5] == [[page.pk]] * 4
    assert len(invalidated) == 7  # the second page: made, then deleted


def test_a_failed_write_tells_the_cache_nothing(
    monitors, invalidated, django_capture_on_commit_callbacks
):
    page = page_of(monitors)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        status_page_update(page=page, slug="Bad Slug")
    assert invalidated == []
    assert StatusPage.objects.get().slug == "acme"


def test_new_groups_replace_the_old_ones_in_order(monitors):
    api, web, db = monitors.ours
    page = page_of(monitors)
    status_page_update(
        page=page,
        groups=[
            Group(name="B", monitors=[MonitorEntry(site=db.pk), MonitorEntry(site=api.pk)]),
            Group(name="A", monitors=[MonitorEntry(site=web.pk, display_name="Web")]),
        ],
    )
    groups = list(StatusPageGroup.objects.filter(page=page))
    assert [g.name for g in groups] == ["B", "A"]
    assert [m.site_id for m in groups[0].monitors.all()] == [db.pk, api.pk]
    assert StatusPageGroup.objects.count() == 2


def test_sites_and_groups_together_are_refused(monitors):
    with pytest.raises(ValidationError) as caught:
        page_of(monitors, groups=[Group(name="x", monitors=[])])
    assert "not both" in caught.value.message_dict["sites"][0]


def test_a_changed_page_is_audited_with_what_changed(monitors):
    page = page_of(monitors)
    status_page_update(page=page, title="New", show_urls=True, actor=monitors.team.editor)
    event = AuditEvent.objects.get(action="status_page.changed")
    assert event.detail == {
        "title": {"from": "Acme", "to": "New"},
        "show_urls": {"from": False, "to": True},
    }
    assert event.actor == monitors.team.editor and event.target_id == str(page.pk)


def test_an_unchanged_save_is_not_audited(monitors):
    page = page_of(monitors)
    status_page_update(page=page, title="Acme")
    assert not AuditEvent.objects.filter(action="status_page.changed").exists()


def test_the_first_resolution_is_kept_and_a_new_status_reopens(monitors):
    page = page_of(monitors)
    incident = incident_create(page=page, title="Down", message="Looking.")
    incident_update_add(incident=incident, status="resolved", message="Fixed.")
    first = StatusIncident.objects.get().resolved_at
    incident_update_add(incident=incident, status="resolved", message="Really fixed.")
    assert StatusIncident.objects.get().resolved_at == first
    incident_update_add(incident=incident, status="investigating", message="Back.")
    assert StatusIncident.objects.get().resolved_at is None


def test_logo_types_come_from_the_bytes(monitors):
    assert logo_type_of(PNG) == "image/png"
    for bad in (SVG, b"<?xml version='1.0'?><svg/>", b"\x00" * 10):
        with pytest.raises(ValidationError):
            logo_type_of(bad)


def test_changing_a_page_deleted_meanwhile_says_it_is_gone(monitors):
    page = page_of(monitors)
    StatusPage.objects.filter(pk=page.pk).delete()
    with pytest.raises(StatusPage.DoesNotExist):
        status_page_update(page=page, title="Too late")
