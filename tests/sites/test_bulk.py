"""Bulk pause, resume and delete from the dashboard: per-site permission, a count, no 500."""

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from monitor.models import Check
from sites.models import Site
from sites.services import site_create
from teams.models import AuditEvent, Membership
from teams.services import personal_project_ensure
from tests.teams.pages_helpers import make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user):
    return make_team()


def sites_of(project, count, prefix="svc"):
    return [
        site_create(
            project=project, url=f"http://127.0.0.1:{9000 + n}/{prefix}", name=f"{prefix}{n}"
        )
        for n in range(count)
    ]


def bulk(client, action, sites, **extra):
    data = {"action": action, "site": [str(s.pk) for s in sites], "next": "/?state=up", **extra}
    return client.post(reverse("site_bulk"), data, follow=True)


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


def test_an_editor_pauses_and_resumes_the_ticked_monitors_and_comes_back_to_the_view(client, team):
    client.force_login(team.editor)
    ticked = sites_of(team.project, 3)
    untouched = sites_of(team.project, 1, prefix="other")[0]

    paused = bulk(client, "pause", ticked)

    assert paused.redirect_chain == [("/?state=up", 302)]
    assert "Paused 3 monitors." in text_of(paused)
    assert [s.enabled for s in Site.objects.filter(pk__in=[s.pk for s in ticked])] == [False] * 3
    assert Site.objects.get(pk=untouched.pk).enabled is True
    assert Site.objects.filter(paused_at__isnull=False).count() == 3
    assert AuditEvent.objects.filter(action="site.paused", actor=team.editor).count() == 3

    resumed = bulk(client, "resume", ticked)

    assert "Resumed 3 monitors." in text_of(resumed)
    assert Site.objects.filter(enabled=True).count() == 4


def test_pausing_counts_only_the_monitors_that_were_running(client, team):
    client.force_login(team.editor)
    ticked = sites_of(team.project, 2)
    bulk(client, "pause", ticked[:1])

    response = bulk(client, "pause", ticked)

    assert "Paused 1 monitor." in text_of(response)


def test_delete_asks_first_on_a_page_listing_them_and_deletes_nothing_yet(client, team):
    client.force_login(team.editor)
    ticked = sites_of(team.project, 2)

    response = bulk(client, "delete", ticked)

    page = text_of(response)
    assert response.status_code == 200
    assert "Stop monitoring 2 monitors?" in page
    assert "svc0" in page and "svc1" in page
    assert 'name="confirm" value="yes"' in page
    assert Site.objects.count() == 2


def test_confirmed_delete_removes_them_with_their_history(client, team):
    client.force_login(team.editor)
    ticked = sites_of(team.project, 2)
    kept = sites_of(team.project, 1, prefix="kept")[0]
    Check.objects.create(site=ticked[0], up=True, status_code=200, response_ms=5)

    response = bulk(client, "delete", ticked, confirm="yes")

    assert "Deleted 2 monitors." in text_of(response)
    assert list(Site.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Check.objects.exists()


def test_a_viewer_is_refused_with_a_message_not_an_error(client, team):
    ticked = sites_of(team.project, 2)
    client.force_login(team.viewer)

    paused = bulk(client, "pause", ticked)
    deleted = bulk(client, "delete", ticked, confirm="yes")

    assert paused.status_code == deleted.status_code == 200
    assert "Paused 0 monitors." in text_of(paused)
    assert "2 monitors left as they were: your role may not edit them." in text_of(paused)
    assert Site.objects.filter(enabled=True).count() == 2


def test_a_mixed_selection_changes_what_the_user_may_edit_and_names_the_rest(client, team):
    own = personal_project_ensure(user=team.viewer)
    mine = sites_of(own, 1, prefix="mine")
    theirs = sites_of(team.project, 1, prefix="theirs")
    client.force_login(team.viewer)

    response = bulk(client, "delete", mine + theirs, confirm="yes")

    page = text_of(response)
    assert "Deleted 1 monitor." in page
    assert "1 monitor left as they were" in page
    assert list(Site.objects.values_list("name", flat=True)) == ["theirs0"]


def test_another_projects_monitor_is_not_found_and_left_alone(client, team):
    stranger_site = sites_of(team.outsider_project, 1, prefix="stranger")[0]
    client.force_login(team.editor)

    response = bulk(client, "pause", [stranger_site])

    assert "1 monitor not found" in text_of(response)
    assert Site.objects.get(pk=stranger_site.pk).enabled is True


def test_the_confirm_page_offers_only_what_the_user_may_delete(client, team):
    own = personal_project_ensure(user=team.viewer)
    mine = sites_of(own, 1, prefix="mine")
    theirs = sites_of(team.project, 1, prefix="theirs")
    client.force_login(team.viewer)

    page = text_of(bulk(client, "delete", mine + theirs))

    assert f'name="site" value="{mine[0].pk}"' in page
    assert f'name="site" value="{theirs[0].pk}"' not in page
    assert "1 other monitor you may not edit" in page


@pytest.mark.parametrize(
    "data",
    [
        {"action": "explode", "site": ["1"]},
        {"site": ["1"]},
        {"action": "pause", "site": ["abc"]},
        {"action": "pause", "site": ["9" * 30]},
        {"action": "pause", "site": [str(n) for n in range(1, 502)]},
    ],
)
def test_bad_input_answers_400_naming_the_field(client, team, data):
    client.force_login(team.editor)

    response = client.post(reverse("site_bulk"), data)

    assert response.status_code == 400
    assert response.content.decode().split(":")[0] in {"action", "site"}


def test_nothing_ticked_says_so(client, team):
    client.force_login(team.editor)

    response = client.post(reverse("site_bulk"), {"action": "pause"}, follow=True)

    assert "Tick the monitors to change first." in text_of(response)


def test_the_next_address_never_leads_off_site(client, team):
    client.force_login(team.editor)
    ticked = sites_of(team.project, 1)

    response = client.post(
        reverse("site_bulk"),
        {"action": "pause", "site": [ticked[0].pk], "next": "https://evil.invalid/"},
    )

    assert response["Location"] == reverse("dashboard")


def test_bulk_needs_post_and_a_login(client, team):
    assert client.get(reverse("site_bulk")).status_code == 405
    response = client.post(reverse("site_bulk"), {"action": "pause"})
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_list_has_labelled_checkboxes_for_editable_monitors_only(client, team):
    own = personal_project_ensure(user=team.viewer)
    mine = sites_of(own, 1, prefix="mine")[0]
    theirs = sites_of(team.project, 1, prefix="theirs")[0]
    client.force_login(team.viewer)

    page = text_of(client.get(reverse("dashboard")))

    assert f'id="pick-{mine.pk}" name="site" value="{mine.pk}" form="bulk-form"' in page
    assert f'<label for="pick-{mine.pk}" class="visually-hidden">Select mine0</label>' in page
    assert f'value="{theirs.pk}" form="bulk-form"' not in page
    assert 'id="bulk-form"' in page and 'value="delete"' in page
    # Select-all needs the script; without it the row boxes still work.
    assert "data-needs-js hidden" in page


def test_a_viewer_with_nothing_editable_sees_no_bulk_toolbar(client, team):
    sites_of(team.project, 1)
    client.force_login(team.viewer)
    Site.objects.exclude(project=team.project).delete()
    Membership.objects.filter(user=team.viewer).exclude(project=team.project).delete()

    page = text_of(client.get(reverse("dashboard")))

    assert 'id="bulk-form"' not in page
    assert 'form="bulk-form"' not in page


def test_the_list_polls_with_the_selection_hold_and_the_script_handles_it():
    script = open(finders.find("sites/behaviour.js")).read()

    assert "htmx:beforeRequest" in script and "data-hold-while-selected" in script
