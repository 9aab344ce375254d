"""Finding 9: a body over DATA_UPLOAD_MAX_MEMORY_SIZE gets a 413 and one log line."""

import logging

from django.conf import settings


def test_an_api_body_just_over_the_limit_gets_json_413_and_one_log_line(api_client, caplog):
    body = b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    with caplog.at_level(logging.INFO):
        response = api_client.generic("POST", "/api/site", body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "limit" in response.json()["detail"]
    assert "Traceback" not in caplog.text
    refusals = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(refusals) == 1
    assert refusals[0].exc_info is None


def test_a_form_body_over_the_limit_gets_413_without_a_traceback(client, user, caplog):
    client.force_login(user)
    body = b"url=" + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    with caplog.at_level(logging.INFO):
        response = client.generic(
            "POST", "/sites/add", body, content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 413
    assert "Traceback" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


def test_a_body_at_the_limit_is_read_as_usual(api_client):
    body = b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE - 2) + b"{}"
    response = api_client.generic("POST", "/api/site", body, content_type="application/json")
    assert response.status_code == 400
    assert "url" in response.json()
