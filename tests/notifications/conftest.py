"""Fixtures for the notifications tests: sites, transitions and the stand-ins' answers."""

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from monitor.models import Check, Transition
from monitor.probe import ErrorKind
from sites.models import Site
from tests.factories import alice_project


@pytest.fixture(autouse=True)
def no_webhook_unless_a_test_sets_one(settings):
    # A developer's real SLACK_WEBHOOK_URL must never receive test messages;
    # the slack_server fixture (which runs after this one) points it at 127.0.0.1.
    settings.SLACK_WEBHOOK_URL = ""


@pytest.fixture
def site(db):
    # Created directly: site_create() would validate (and resolve) the host.
    return Site.objects.create(
        project=alice_project(), url="https://example.com", status=Site.Status.DOWN
    )


@pytest.fixture
def make_transition(db):
    def make(site, *, to_status="down", at=None, status_code=-1, **fields) -> Transition:
        at = at or timezone.now() - timedelta(seconds=1)
        down = to_status == Site.Status.DOWN
        if status_code == -1:
            status_code = 503 if down else 200
        check = Check.objects.create(
            site=site,
            checked_at=at,
            up=not down,
            status_code=status_code,
            error_kind=ErrorKind.HTTP_STATUS if down else "",
            error_message=f"HTTP {status_code} Service Unavailable" if down else "",
        )
        return Transition.objects.create(
            site=site,
            check_result=check,
            from_status="down" if not down else "up",
            to_status=to_status,
            created_at=at,
            **fields,
        )

    return make


@pytest.fixture
def down_transition(site, make_transition):
    return make_transition(site)


@pytest.fixture
def webhook_server(db):
    """A local stand-in for a generic webhook receiver, and a webhook channel to it in
    alice's project (beside the Slack stand-in's channel when a test asks for both).

    Script answers with answer(webhook_server, path="/in"); read what arrived from its log.
    """
    from notifications.models import Channel

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    server.channel = Channel.objects.create(
        project=alice_project(),
        kind="webhook",
        name="Webhook stand-in",
        secrets={"url": server.url_for("/in")},
    )
    yield server
    server.clear()
    if server.is_running():
        server.stop()
