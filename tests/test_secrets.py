"""SLACK_WEBHOOK_URL is a secret: no page, API answer or command output shows it."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from sites.services import site_create
from tests.factories import alice_project

SECRET = "T0SECRET/B0SECRET/xoxSecretToken42"


def assert_hidden(text: str, webhook_url: str) -> None:
    assert SECRET not in text
    assert webhook_url not in text


@pytest.fixture
def webhook_url(settings, refused_url):
    settings.SLACK_WEBHOOK_URL = f"{refused_url}services/{SECRET}"
    return settings.SLACK_WEBHOOK_URL


@pytest.fixture
def site(db, refused_url):
    return site_create(project=alice_project(), url=refused_url, name="mine")


@pytest.mark.parametrize("path", ["/api/site", "/api/status", "/api/schema"])
def test_no_api_answer_shows_the_webhook(api_client, site, webhook_url, path):
    response = api_client.get(path)
    assert response.status_code == 200
    assert_hidden(response.content.decode(), webhook_url)


def test_the_dashboard_does_not_show_the_webhook(client, user, site, webhook_url):
    client.force_login(user)
    for path in ("/", "/sites/list", reverse("site_detail", args=[site.pk])):
        response = client.get(path)
        assert response.status_code == 200
        assert_hidden(response.content.decode(), webhook_url)


def admin_pages() -> list[str]:
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    return pages


def test_no_admin_page_shows_the_webhook(client, admin_user, site, webhook_url):
    client.force_login(admin_user)
    pages = admin_pages() + [reverse("admin:sites_site_change", args=[site.pk])]
    for page in pages:
        response = client.get(page)
        assert response.status_code in {200, 403}, page
        assert_hidden(response.content.decode(), webhook_url)


def run_test_slack(capsys) -> str:
    with pytest.raises(CommandError) as failure:
        call_command("test_slack")
    captured = capsys.readouterr()
    return f"{failure.value}\n{captured.out}\n{captured.err}"


def test_test_slack_does_not_show_the_webhook_when_nothing_listens(webhook_url, capsys, db):
    output = run_test_slack(capsys)
    assert "Slack did not accept" in output
    assert_hidden(output, webhook_url)


@pytest.mark.parametrize("status", [404, 500])
def test_test_slack_does_not_show_the_webhook_when_slack_refuses(
    slack_server, settings, capsys, status, db
):
    settings.SLACK_WEBHOOK_URL = slack_server.url_for(f"/services/{SECRET}")
    # An answer that echoes the URL, as a misbehaving proxy might.
    slack_server.expect_request(f"/services/{SECRET}").respond_with_data(
        f"no_service at {settings.SLACK_WEBHOOK_URL}", status=status
    )
    output = run_test_slack(capsys)
    assert "Slack did not accept" in output
    assert_hidden(output, settings.SLACK_WEBHOOK_URL)
