"""A team with a Slack-like stand-in: what the channels API, pages and command tests share.

The stand-in is pytest-httpserver on 127.0.0.1; a channel's webhook URL
points at it, and its log holds exactly what arrived.
"""

import json

import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from notifications.services import channel_create
from teams.tokens import token_create
from tests.teams.pages_helpers import Team, make_team

SECRET_PATH = "/services/T000/B000/SECRETxyz"


@pytest.fixture(scope="session")
def hook_server():
    # One for the session: stopping a server takes half a second.
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    if server.is_running():
        server.stop()


@pytest.fixture
def hook(hook_server):
    """A stand-in for a chat service's incoming webhook (answers what a test queues)."""
    hook_server.clear()
    yield hook_server
    hook_server.clear()


@pytest.fixture
def team(db) -> Team:
    return make_team()


def api_as(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user, name='t')[1]}")
    return client


def slack_channel(team: Team, hook: HTTPServer, **fields):
    values = {"name": "Ops Slack", "config": {"url": hook.url_for(SECRET_PATH)}, **fields}
    return channel_create(actor=None, project=team.project, kind="slack", **values)


def received(server: HTTPServer) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in server.log]
