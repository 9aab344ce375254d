"""What counts as a monitorable URL, and its one canonical form."""

import pytest
from django.core.exceptions import ValidationError

from sites.services import site_create
from sites.targets import MAX_URL_LENGTH, normalize_url
from tests.factories import alice_project


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        ("HTTPS://Example.COM", "https://example.com/"),
        ("https://example.com:443/", "https://example.com/"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/health?x=1#top", "http://example.com:8080/health?x=1"),
        ("example.com:8443/status", "https://example.com:8443/status"),
        ("localhost:8080", "https://localhost:8080/"),
        ("localhost:8080?x=1", "https://localhost:8080/?x=1"),
        ("  https://example.com/path  ", "https://example.com/path"),
        ("https:/example.com/x", "https://example.com/x"),
        ("http://[::1]:8000/", "http://[::1]:8000/"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ],
)
def test_urls_are_normalised_so_one_site_has_one_url(raw, normalized):
    assert normalize_url(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "Enter a URL"),
        ("invalid://scheme", "Unsupported scheme"),
        ("ftp://example.com/", "Unsupported scheme"),
        ("javascript:alert(1)", "Unsupported scheme 'javascript': only http and https"),
        ("mailto:ops@example.com", "Unsupported scheme 'mailto'"),
        ("data:text/html,hi", "Unsupported scheme 'data'"),
        ("https://", "no host"),
        ("https://user:pw@example.com/", "Credentials"),
        ("https://example.com:99999/", "malformed"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com/" + "a" * MAX_URL_LENGTH, "limit"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(raw, reason):
    with pytest.raises(ValidationError, match=reason):
        normalize_url(raw)


def test_the_same_site_written_two_ways_is_refused_as_a_duplicate(db):
    site_create(project=alice_project(), url="127.0.0.1:9")
    with pytest.raises(ValidationError) as caught:
        site_create(project=alice_project(), url="https://127.0.0.1:9/")
    assert "already monitored" in str(caught.value.message_dict["url"])


def test_an_interval_below_the_minimum_is_refused(db):
    with pytest.raises(ValidationError) as caught:
        site_create(project=alice_project(), url="http://127.0.0.1:9/", interval=5)
    assert "interval" in caught.value.message_dict


def test_a_timeout_longer_than_the_interval_is_refused(db):
    with pytest.raises(ValidationError) as caught:
        site_create(project=alice_project(), url="http://127.0.0.1:9/", interval=10, timeout=20)
    assert "timeout" in caught.value.message_dict
