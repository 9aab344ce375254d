"""GET/POST /api/tokens and DELETE /api/tokens/<id>: the caller's own tokens."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from teams.models import ApiToken, AuditEvent


def test_a_new_token_s_key_is_shown_once_and_works(team):
    response = team.client("viewer").post(
        "/api/tokens", {"name": "ci", "readOnly": True, "expiresInDays": 30}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith("upt_") and body["key"].startswith(body["prefix"])
    assert body["readOnly"] is True
    expires = ApiToken.objects.get(pk=body["id"]).expires_at
    assert timedelta(days=29) < expires - timezone.now() <= timedelta(days=30)
    listed = team.client("viewer").get("/api/tokens").json()["tokens"]
    assert body["key"] not in str(listed)
    assert {t["name"] for t in listed} == {"tests", "ci"}
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {body['key']}")
    assert fresh.get("/api/site").status_code == 200
    assert fresh.post("/api/projects", {"name": "x"}, format="json").status_code == 403
    event = AuditEvent.objects.get(action="token.created", target_id=str(body["id"]))
    assert (event.project, event.actor) == (None, team.users["viewer"])


def test_a_read_only_token_cannot_make_tokens(team):
    response = team.client("read-only token").post("/api/tokens", {"name": "x"}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x", "expiresInDays": 0},
        {"name": "x", "expiresInDays": 100000},
        {"name": "x", "expiresAt": "2001-01-01T00:00:00Z"},
        {"name": "x", "expiresAt": "soon"},
        {"name": "x", "expiresInDays": 1, "expiresAt": "2999-01-01T00:00:00Z"},
        {"name": "x", "key": "upt_mine"},
    ],
)
def test_bad_token_input_is_refused_with_a_400(team, body):
    response = team.client("owner").post("/api/tokens", body, format="json")
    assert response.status_code == 400, response.json()


def test_revoking_a_token_stops_it_at_once_and_others_tokens_are_not_found(team):
    spare = team.spare_token.pk
    assert team.client("admin").delete(f"/api/tokens/{spare}").status_code == 404
    assert team.client("owner").delete(f"/api/tokens/{spare}").status_code == 204
    assert not ApiToken.objects.filter(pk=spare).exists()
    own = ApiToken.objects.get(user=team.users["editor"])
    assert team.client("editor").delete(f"/api/tokens/{own.pk}").status_code == 204
    assert team.client("editor").get("/api/site").status_code == 401
    assert AuditEvent.objects.filter(action="token.revoked").count() == 2
