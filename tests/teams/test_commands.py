"""create_token, list_projects, and the --project option of the site commands."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from sites.models import Site
from sites.services import site_create
from teams.models import ApiToken
from teams.tokens import token_for_key


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_token_prints_a_working_key_alone_on_its_last_line(team):
    key = run("create_token", "viewer", "--name", "deploy").splitlines()[-1]
    token = token_for_key(key)
    assert (token.user, token.name, token.read_only, token.expires_at) == (
        team.users["viewer"],
        "deploy",
        False,
        None,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/site").status_code == 200


def test_create_token_makes_read_only_and_expiring_tokens(team):
    key = run("create_token", "viewer", "--read-only", "--expires-in-days", "3").splitlines()[-1]
    token = token_for_key(key)
    assert token.read_only and token.expires_at is not None


@pytest.mark.parametrize(
    "args",
    [("nobody",), ("viewer", "--expires-in-days", "0"), ("viewer", "--name", " ")],
)
def test_create_token_refuses_bad_input(team, args):
    before = ApiToken.objects.count()
    with pytest.raises(CommandError):
        run("create_token", *args)
    assert ApiToken.objects.count() == before


def test_list_projects_shows_members_and_sites(team):
    out = run("list_projects")
    line = next(row for row in out.splitlines() if row.startswith(f"{team.project.pk} "))
    assert line.split()[-2:] == ["5", "1"]  # owner, admin, editor, viewer, extra; one site


def test_a_url_monitored_in_two_projects_needs_an_id_or_a_project(team):
    twin = site_create(project=team.outsider_site.project, url=team.site.url)
    with pytest.raises(CommandError, match="several projects"):
        run("remove_site", team.site.url)
    run("remove_site", team.site.url, "--project", str(twin.project_id))
    assert not Site.objects.filter(pk=twin.pk).exists()
    assert Site.objects.filter(pk=team.site.pk).exists()


def test_list_sites_with_a_project_lists_only_its_sites(team):
    out = run("list_sites", "--project", str(team.project.pk))
    assert team.site.url in out
    assert team.outsider_site.url not in out
    with pytest.raises(CommandError, match="list_projects"):
        run("list_sites", "--project", "999999")


def test_check_site_and_check_all_take_a_project(team):
    with pytest.raises(SystemExit):  # the site is down: nothing listens at its port
        run("check_site", str(team.site.pk), "--project", str(team.project.pk))
    with pytest.raises(CommandError):
        run("check_site", str(team.site.pk), "--project", str(team.outsider_site.project_id))
    with pytest.raises(SystemExit):
        run("check_all", "--project", str(team.project.pk))
    team.site.refresh_from_db()
    assert team.site.last_checked_at is not None
    team.outsider_site.refresh_from_db()
    assert team.outsider_site.last_checked_at is None
