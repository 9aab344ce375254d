"""The admin's status pages: shown, corrected through the services' rules, deleted."""

import pytest
from django.urls import reverse

from statuspages.models import StatusPage
from statuspages.services import incident_create, status_page_create
from teams.models import AuditEvent
from tests.statuspages.editor_helpers import monitors

pytestmark = pytest.mark.django_db
monitors = monitors  # the shared fixture


@pytest.fixture
def page(monitors):
    return status_page_create(
        project=monitors.team.project, slug="acme", title="Acme", sites=[monitors.ours[0].pk]
    )


def form(page, **changes) -> dict:
    data = {"slug": page.slug, "title": page.title, "description": "", "custom_domain": ""}
    # The monitors inline (read-only) still sends its management form.
    count = page.monitors.count()
    data |= {"monitors-TOTAL_FORMS": count, "monitors-INITIAL_FORMS": count}
    data |= {f"monitors-{i}-id": m.pk for i, m in enumerate(page.monitors.all())}
    return {**data, **changes}


def test_the_admin_lists_pages_and_incidents(admin_client, page):
    incident_create(page=page, title="API errors", message="Looking.")
    assert (
        "Acme"
        in admin_client.get(reverse("admin:statuspages_statuspage_changelist")).content.decode()
    )
    change = admin_client.get(reverse("admin:statuspages_statuspage_change", args=[page.pk]))
    assert change.status_code == 200 and "api" in change.content.decode()
    listed = admin_client.get(reverse("admin:statuspages_statusincident_changelist"))
    assert "API errors" in listed.content.decode()


def test_a_change_in_the_admin_follows_the_services_rules(admin_client, page):
    url = reverse("admin:statuspages_statuspage_change", args=[page.pk])

    refused = admin_client.post(url, form(page, custom_domain="https://x.example/"))
    assert refused.status_code == 200 and "no scheme" in refused.content.decode()

    saved = admin_client.post(url, form(page, title="Renamed", custom_domain="Status.Example.COM"))
    assert saved.status_code == 302
    page.refresh_from_db()
    assert (page.title, page.custom_domain) == ("Renamed", "status.example.com")
    assert AuditEvent.objects.filter(action="status_page.changed").exists()


def test_a_delete_in_the_admin_is_audited(admin_client, page):
    url = reverse("admin:statuspages_statuspage_delete", args=[page.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not StatusPage.objects.exists()
    assert AuditEvent.objects.filter(action="status_page.deleted").count() == 1
