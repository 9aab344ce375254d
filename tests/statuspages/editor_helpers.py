"""What the editor's tests share: a team (tests.teams.pages_helpers) with monitors in two projects.

Monitors are made as rows on 127.0.0.1 (nothing is checked in these tests).
"""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from sites.models import Site
from teams.tokens import token_create
from tests.teams.pages_helpers import Team, make_team

# Bytes images start with; the rest does not matter to the checks.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@dataclass
class Monitors:
    team: Team
    ours: list[Site]
    theirs: Site  # the outsider's, in another project


def monitor(project, name: str) -> Site:
    return Site.objects.create(project=project, url=f"http://127.0.0.1:9/{name}", name=name)


@pytest.fixture
def monitors(db) -> Monitors:
    team = make_team()
    ours = [monitor(team.project, name) for name in ("api", "web", "db")]
    return Monitors(team=team, ours=ours, theirs=monitor(team.outsider_project, "elsewhere"))


def api_as(user) -> APIClient:
    client = APIClient()
    _, key = token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
