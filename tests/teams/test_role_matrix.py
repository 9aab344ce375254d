"""Every API route and dashboard page, for each role and for a user of another project.

The issue's "done when": another project's objects answer 404 and reveal
nothing; viewers' and read-only tokens' writes answer 403. Each case is one
request by one person; the read-only token is the owner's, so its reads
succeed as the owner's do.
"""

from dataclasses import dataclass, field

import pytest
from django.test import Client

from sites.models import Site
from teams.models import Project
from tests.teams.conftest import ROLES, make_user

WHO = (*ROLES, "outsider", "read-only token")
RANK = {role: index for index, role in enumerate(reversed(ROLES))}  # viewer 0 … owner 3


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {project}, {site}, {member}, {invitation}, {token} are filled in
    ok: int
    least: str | None  # the least role in the team's project; None: any account
    body: dict | None = None
    outsider: int = 404
    others: dict[str, int] = field(default_factory=dict)  # exceptions to the rule, by person

    def expected(self, who: str) -> int:
        if who in self.others:
            return self.others[who]
        if who == "read-only token":
            return self.ok if self.method == "GET" else 403
        if self.least is None:
            return self.ok
        if who == "outsider":
            return self.outsider
        return self.ok if RANK[who] >= RANK[self.least] else 403

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


NEW_SITE = "http://127.0.0.1:9/new-site"
P = "/api/projects/{project}"
ROUTES = [
    Route("GET", "/api/ping/http://127.0.0.1:9/", 200, None),
    Route("GET", "/api/site", 200, None),
    Route("GET", "/api/site?project={project}", 200, "viewer"),
    # The project is a field of the body: not theirs is a 400 naming it.
    Route("POST", "/api/site", 201, "editor", {"url": NEW_SITE, "project": "{project}"}, 400),
    Route("GET", "/api/site/{site}", 200, "viewer"),
    Route("PATCH", "/api/site/{site}", 200, "editor", {"name": "renamed"}),
    Route("PATCH", "/api/site/{site}", 200, "editor", {"enabled": False}),
    Route("DELETE", "/api/site/{site}", 204, "editor"),
    Route("POST", "/api/check/{site}", 200, "editor"),
    # Everyone owns a personal project, so everyone may queue its checks.
    Route("POST", "/api/check-all", 202, None),
    Route("GET", "/api/status", 200, None),
    Route("GET", "/api/status?project={project}", 200, "viewer"),
    Route("GET", "/api/projects", 200, None),
    Route("POST", "/api/projects", 201, None, {"name": "Another"}),
    Route("GET", P, 200, "viewer"),
    Route("PATCH", P, 200, "admin", {"name": "Renamed"}),
    Route("PATCH", P, 200, "admin", {"require2fa": True}),
    Route("DELETE", P, 204, "owner"),
    Route("GET", P + "/members", 200, "viewer"),
    Route("POST", P + "/members", 201, "admin", {"username": "newcomer", "role": "viewer"}),
    Route("POST", P + "/members", 202, "admin", {"email": "new@example.test", "role": "viewer"}),
    Route("PATCH", P + "/members/{member}", 200, "admin", {"role": "editor"}),
    Route("DELETE", P + "/members/{member}", 204, "admin"),
    Route("GET", P + "/invitations", 200, "admin"),
    Route("DELETE", P + "/invitations/{invitation}", 204, "admin"),
    Route("GET", P + "/audit", 200, "admin"),
    Route("GET", "/api/tokens", 200, None),
    Route("POST", "/api/tokens", 201, None, {"name": "ci"}),
    # Another person's token does not exist for you.
    Route(
        "DELETE",
        "/api/tokens/{token}",
        204,
        None,
        others={"admin": 404, "editor": 404, "viewer": 404, "outsider": 404},
    ),
]
CASES = [
    pytest.param(route, who, id=f"{route.label} {route.body or ''} as {who}".replace(" ", "_"))
    for route in ROUTES
    for who in WHO
]


def fill(template, team):
    values = {
        "project": team.project.pk,
        "site": team.site.pk,
        "member": team.extra_member.pk,
        "invitation": team.invitation.pk,
        "token": team.spare_token.pk,
    }
    if isinstance(template, str):
        return template.format(**values)
    # A placeholder standing alone is the id itself, as a number.
    return {
        key: values[value[1:-1]] if value in {f"{{{name}}}" for name in values} else value
        for key, value in template.items()
    }


def send(team, route: Route, who: str):
    call = getattr(team.client(who), route.method.lower())
    if route.body is None:
        return call(fill(route.path, team))
    return call(fill(route.path, team), fill(route.body, team), format="json")


@pytest.fixture
def newcomer(team):
    return make_user("newcomer")


@pytest.mark.parametrize(("route", "who"), CASES)
def test_each_route_answers_each_person_as_their_role_allows(route, who, team, newcomer):
    response = send(team, route, who)
    assert response.status_code == route.expected(who), response.content
    if who == "outsider":
        for secret in team.secrets:
            assert secret not in response.content.decode()


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method != "GET"], ids=lambda r: r.label)
def test_a_refused_write_changes_nothing(route, team, newcomer):
    # The viewer may leave, which DELETE /members/<them> would be: aimed at another member here.
    before = _snapshot(team)
    for who in ("viewer", "outsider", "read-only token"):
        if route.expected(who) >= 400:
            send(team, route, who)
    assert _snapshot(team) == before


def _snapshot(team) -> tuple:
    project = Project.objects.get(pk=team.project.pk)
    return (
        project.name,
        project.require_2fa,
        sorted(project.memberships.values_list("user__username", "role")),
        sorted(project.invitations.values_list("email", flat=True)),
        sorted(Site.objects.filter(project=project).values_list("url", "name", "enabled")),
        sorted(team.users["owner"].api_tokens.values_list("name", flat=True)),
    )


# Dashboard pages.


@pytest.fixture
def page_client(team):
    def log_in(who: str) -> Client:
        client = Client()
        client.force_login(team.users[who])
        return client

    return log_in


@pytest.mark.parametrize("page", ["/", "/sites/list"])
def test_an_outsider_s_dashboard_shows_nothing_of_the_team_s_project(page, team, page_client):
    response = page_client("outsider").get(page)
    assert response.status_code == 200
    for secret in team.secrets:
        assert secret not in response.content.decode()


@pytest.mark.parametrize("page", ["/", "/sites/list"])
@pytest.mark.parametrize("who", ROLES)
def test_every_member_s_dashboard_lists_the_team_s_site(page, who, team, page_client):
    response = page_client(who).get(page)
    assert response.status_code == 200
    assert team.site.name in response.content.decode()


@pytest.mark.parametrize(
    ("method", "page"),
    [("get", "/sites/{site}"), ("get", "/sites/{site}/delete"), ("post", "/sites/{site}/delete")],
)
def test_an_outsider_gets_404_for_the_team_s_site_pages(method, page, team, page_client):
    response = getattr(page_client("outsider"), method)(fill(page, team))
    assert response.status_code == 404
    for secret in team.secrets:
        assert secret not in response.content.decode()
    assert Site.objects.filter(pk=team.site.pk).exists()


@pytest.mark.parametrize("who", ROLES)
def test_every_member_sees_the_site_page(who, team, page_client):
    assert page_client(who).get(fill("/sites/{site}", team)).status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_viewer_may_not_delete_a_site_from_the_dashboard(method, team, page_client):
    response = getattr(page_client("viewer"), method)(fill("/sites/{site}/delete", team))
    assert response.status_code == 403
    assert Site.objects.filter(pk=team.site.pk).exists()


@pytest.mark.parametrize("who", ["owner", "admin", "editor"])
def test_an_editor_or_above_deletes_a_site_from_the_dashboard(who, team, page_client):
    response = page_client(who).post(fill("/sites/{site}/delete", team))
    assert response.status_code == 302
    assert not Site.objects.filter(pk=team.site.pk).exists()
