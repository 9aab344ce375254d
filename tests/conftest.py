"""Fixtures shared by the whole suite: users, API clients and local servers.

Every server here listens on 127.0.0.1; nothing in the suite talks to any
other address.
"""

import shutil
import socket
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from django.db.models.signals import post_save
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from teams.models import Project
from teams.tokens import token_create
from tests.factories import alice


def pytest_sessionfinish(session, exitstatus):
    # tests/settings.py gives every run its own data dir; leave nothing behind.
    shutil.rmtree(django_settings.DATA_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def own_curl_handles(monkeypatch):
    """Each test probes on curl handles of its own: monitor.probe keeps them
    from one batch to the next, with the options they were made with (the
    roots a test trusts, the names it pins)."""
    import monitor.probe

    monkeypatch.setattr(monitor.probe, "_ENGINES", monitor.probe._Engines())


@pytest.fixture
def user(db):
    return alice()


@pytest.fixture
def token(user):
    """alice's API key."""
    _, key = token_create(user=user, name="tests")
    return key


@pytest.fixture
def api_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def slack_server(db):
    """A local stand-in for Slack's incoming webhook, and a Slack channel to it in
    every project of the test (those that exist and those made later).

    Script answers with slack_server.expect_request("/hook").respond_with_*;
    read what arrived from slack_server.log.
    """
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    with slack_channel_in_every_project(server.url_for("/hook")):
        yield server
    server.clear()
    if server.is_running():
        server.stop()


@contextmanager
def slack_channel_in_every_project(url: str):
    """A Slack channel to `url` in every project, those that exist and those made inside."""

    def add_channel(sender, instance, created, raw=False, **kwargs):
        if created and not raw:
            slack_channel(instance, url)

    post_save.connect(add_channel, sender=Project, dispatch_uid="tests.slack_channels")
    try:
        for project in Project.objects.all():
            slack_channel(project, url)
        yield
    finally:
        post_save.disconnect(sender=Project, dispatch_uid="tests.slack_channels")


def slack_channel(project, url: str):
    """The project's Slack channel to `url` (made once)."""
    from notifications.models import Channel

    channel, _ = Channel.objects.get_or_create(
        project=project, kind="slack", name="Slack stand-in", defaults={"secrets": {"url": url}}
    )
    return channel


@pytest.fixture
def refused_url():
    """A URL on 127.0.0.1 where nothing listens, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def dns_server():
    """A DNS server on 127.0.0.1 answering what the test sets (tests/dns_server.py).

    A dns monitor reaches it with resolver=dns_server.address; no query leaves
    the machine.
    """
    from tests.dns_server import DNSServer

    with DNSServer() as server:
        yield server
