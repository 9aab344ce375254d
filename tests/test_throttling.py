"""API throttling: a rate per user and per address, answered 429 with Retry-After."""

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from accounts.limits import account_rate_limits
from teams.tokens import token_create
from uptime import settings as uptime_settings
from uptime.env import env_rate


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def test_an_authenticated_caller_over_the_user_rate_gets_429_with_retry_after(api_client, settings):
    settings.UPTIME_API_RATE_USER = "3/min"
    answers = [api_client.get("/api/status").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    response = api_client.get("/api/site")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"]


def test_each_user_has_their_own_count(api_client, django_user_model, settings):
    settings.UPTIME_API_RATE_USER = "2/min"
    api_client.get("/api/status")
    api_client.get("/api/status")
    assert api_client.get("/api/status").status_code == 429
    bob = django_user_model.objects.create_user(username="bob", password="x")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=bob, name='t')[1]}")
    assert other.get("/api/status").status_code == 200


def test_anonymous_calls_turn_from_401_to_429_over_the_anonymous_rate(anon_client, db, settings):
    settings.UPTIME_API_RATE_ANON = "2/min"
    answers = [anon_client.get("/api/site").status_code for _ in range(3)]
    assert answers == [401, 401, 429]
    assert 0 < int(anon_client.get("/api/status")["Retry-After"]) <= 60


def test_guessing_tokens_counts_as_failed_attempts_of_the_address(db, settings):
    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=5, failures_per_ip=3, window_minutes=15
    )
    answers = []
    for guess in range(4):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token guess-{guess}")
        answers.append(client.get("/api/site").status_code)
    assert answers == [401, 401, 401, 429]


def test_a_forged_x_forwarded_for_does_not_reset_the_anonymous_count(anon_client, db, settings):
    settings.UPTIME_API_RATE_ANON = "2/min"
    answers = [
        anon_client.get("/api/site", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]
    assert answers == [401, 401, 429]


def test_the_anonymous_count_does_not_slow_down_a_valid_token(anon_client, api_client, settings):
    settings.UPTIME_API_RATE_ANON = "1/min"
    anon_client.get("/api/site")
    assert anon_client.get("/api/site").status_code == 429
    assert api_client.get("/api/site").status_code == 200


@pytest.mark.parametrize("raw", ["60/min", "5/s", "100/hour", "1000/day", " 10/MINUTE "])
def test_a_well_formed_rate_is_accepted(monkeypatch, raw):
    monkeypatch.setenv("UPTIME_API_RATE_USER", raw)
    assert env_rate("UPTIME_API_RATE_USER", "1/min") == raw.strip().lower()


@pytest.mark.parametrize("raw", ["60", "60/mango", "0/min", "-1/min", "a/min", "60/", "/min"])
def test_a_malformed_rate_stops_with_a_message_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("UPTIME_API_RATE_ANON", raw)
    with pytest.raises(ImproperlyConfigured, match="UPTIME_API_RATE_ANON"):
        env_rate("UPTIME_API_RATE_ANON", "60/min")


def test_the_cache_is_a_database_table_every_process_shares_without_cache_url(monkeypatch):
    monkeypatch.delenv("CACHE_URL", raising=False)
    assert uptime_settings._caches()["default"] == {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "uptime_cache",
    }


def test_a_redis_cache_url_shares_counts_through_redis(monkeypatch):
    monkeypatch.setenv("CACHE_URL", "redis://127.0.0.1:6379/3")
    assert uptime_settings._caches()["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/3",
    }


def test_a_cache_url_that_is_not_redis_stops_with_a_message(monkeypatch):
    monkeypatch.setenv("CACHE_URL", "memcached://127.0.0.1:11211")
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        uptime_settings._caches()
