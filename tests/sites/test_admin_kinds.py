"""The admin for monitors of every kind: options as JSON, secrets never shown."""

import pytest
from django.urls import reverse

from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

pytestmark = pytest.mark.django_db
SITES = reverse("admin:sites_site_changelist")


def form_data(**overrides) -> dict:
    return {
        "project": str(alice_project().pk),
        "kind": "tcp",
        "url": "",
        "name": "",
        "interval": "60",
        "timeout": "10",
        "enabled": "on",
        "failure_threshold": "2",
        "success_threshold": "1",
        "retry_interval": "20",
        "options": "{}",
        **overrides,
    }


def with_secret() -> Site:
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/", name="Private")
    # As the kind stores a basic-auth password: in `secrets`, never in `options`.
    Site.objects.filter(pk=site.pk).update(
        options={"url": site.url, "authType": "basic", "authUsername": "ops"},
        secrets={"authPassword": "hunter2-secret"},
    )
    return site


def test_adding_a_tcp_monitor_with_its_options_as_json(admin_client):
    response = admin_client.post(
        reverse("admin:sites_site_add"),
        form_data(options='{"host": "127.0.0.1", "port": 5432}', failure_threshold="3"),
    )

    assert response.status_code == 302
    site = Site.objects.get()
    assert (site.kind, site.url, site.failure_threshold) == ("tcp", "tcp://127.0.0.1:5432", 3)


def test_a_bad_option_is_shown_on_the_options_field_by_its_name(admin_client):
    response = admin_client.post(
        reverse("admin:sites_site_add"), form_data(options='{"host": "127.0.0.1", "port": 0}')
    )

    assert response.status_code == 200
    assert "port: 0 is not a port: use 1 to 65535." in response.text
    assert not Site.objects.exists()


def test_options_that_are_not_an_object_are_refused(admin_client):
    response = admin_client.post(reverse("admin:sites_site_add"), form_data(options="[1, 2]"))

    assert "An object, like {&quot;host&quot;" in response.text


def test_editing_options_changes_the_target_but_not_the_kind(admin_client):
    site = site_create(
        project=alice_project(), kind="tcp", options={"host": "127.0.0.1", "port": 5432}
    )

    response = admin_client.post(
        reverse("admin:sites_site_change", args=[site.pk]),
        form_data(kind="http", options='{"host": "127.0.0.1", "port": 6432}'),
    )

    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.kind, site.url) == ("tcp", "tcp://127.0.0.1:6432")


def test_the_change_page_and_the_list_never_show_a_secret(admin_client):
    site = with_secret()

    change = admin_client.get(reverse("admin:sites_site_change", args=[site.pk]))
    changelist = admin_client.get(SITES)

    for response in (change, changelist):
        assert response.status_code == 200
        assert "hunter2-secret" not in response.text
    assert "authUsername" in change.text  # the options are there, the secret is not
    assert 'name="auth_password"' in change.text


def test_the_site_list_filters_by_kind(admin_client):
    site_create(project=alice_project(), kind="tcp", options={"host": "127.0.0.1", "port": 22})
    site_create(project=alice_project(), url="http://127.0.0.1:8080/")

    response = admin_client.get(SITES, {"kind__exact": "tcp"})

    assert response.status_code == 200
    assert "tcp://127.0.0.1:22" in response.text
    assert "http://127.0.0.1:8080/" not in response.text


def test_the_change_page_of_each_state_renders(admin_client):
    site = site_create(
        project=alice_project(), kind="tcp", options={"host": "127.0.0.1", "port": 22}
    )
    for status in Site.Status.values:
        Site.objects.filter(pk=site.pk).update(status=status)
        assert (
            admin_client.get(reverse("admin:sites_site_change", args=[site.pk])).status_code == 200
        )
        assert admin_client.get(SITES).status_code == 200
