"""/healthz: a database round trip, no login, nothing secret in the answer."""

import pytest
from django.db import connection
from django.urls import reverse


@pytest.mark.django_db
def test_health_answers_ok_without_logging_in(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_health_answers_503_when_the_database_cannot_be_opened(
    client, django_db_blocker, tmp_path, refused_url
):
    with django_db_blocker.unblock():
        connection.close()
        saved = dict(connection.settings_dict)
        if connection.vendor == "sqlite":
            # A database file in a directory that does not exist: SQLite cannot open it.
            connection.settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
        else:
            # A port on 127.0.0.1 where nothing listens: the connection is refused.
            connection.settings_dict["PORT"] = refused_url.rsplit(":", 1)[1].strip("/")
        try:
            response = client.get(reverse("healthz"))
        finally:
            connection.close()
            connection.settings_dict.update(saved)

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
