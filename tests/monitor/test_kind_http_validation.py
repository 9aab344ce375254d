"""http monitors' options: each field validated on its own, errors named by field."""

import pytest
from django.core.exceptions import ValidationError

from monitor.kinds import http
from tests.tls_targets import CertificateAuthority

URL = "http://127.0.0.1:8080/health"


def clean(**options):
    return http.clean({"url": URL, **options})


def error_fields(**options) -> dict:
    with pytest.raises(ValidationError) as caught:
        clean(**options)
    return caught.value.message_dict


def test_the_defaults_are_filled_in_and_the_target_is_the_normalised_url():
    cleaned = http.clean({"url": "HTTP://127.0.0.1:8080/health"})
    assert cleaned["url"] == URL and http.target(cleaned) == URL
    assert cleaned["method"] == "GET" and cleaned["expectedStatus"] == "200-399"
    assert cleaned["followRedirects"] is True and cleaned["maxResponseMs"] is None
    assert set(cleaned) == set(http.OPTIONS)


def test_a_private_url_is_refused_on_url_when_the_guard_is_on(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    assert "url" in error_fields()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"method": "FETCH"}, "method"),
        ({"method": 1}, "method"),
        ({"headers": ["X-A: b"]}, "headers"),
        ({"headers": {"Bad Name": "x"}}, "headers"),
        ({"headers": {"X-A": "a\r\nX-Injected: 1"}}, "headers"),
        ({"headers": {"X-A": 5}}, "headers"),
        ({"headers": {"Content-Length": "5"}}, "headers"),
        ({"headers": {f"X-{i}": "v" for i in range(31)}}, "headers"),
        ({"body": "x"}, "body"),
        ({"method": "POST", "body": "x" * (64 * 1024 + 1)}, "body"),
        ({"expectedStatus": "200-299,abc"}, "expectedStatus"),
        ({"expectedStatus": "299-200"}, "expectedStatus"),
        ({"expectedStatus": "99"}, "expectedStatus"),
        ({"expectedStatus": "600"}, "expectedStatus"),
        ({"expectedStatus": ""}, "expectedStatus"),
        ({"followRedirects": "yes"}, "followRedirects"),
        ({"keyword": "k" * 501}, "keyword"),
        ({"keywordAbsent": True}, "keyword"),
        ({"method": "HEAD", "keyword": "ok"}, "keyword"),
        ({"jsonPath": "status", "jsonExpected": "ok"}, "jsonPath"),
        ({"jsonPath": "$.", "jsonExpected": "ok"}, "jsonPath"),
        ({"jsonPath": "$[x]", "jsonExpected": "ok"}, "jsonPath"),
        ({"jsonPath": "$..status", "jsonExpected": "ok"}, "jsonPath"),
        ({"jsonPath": '$["unclosed]', "jsonExpected": "ok"}, "jsonPath"),
        ({"jsonPath": "$.status"}, "jsonExpected"),
        ({"jsonExpected": "ok"}, "jsonPath"),
        ({"authType": "digest"}, "authType"),
        ({"authType": "basic", "authPassword": "p"}, "authUsername"),
        ({"authType": "basic", "authUsername": "u"}, "authPassword"),
        ({"authType": "bearer"}, "bearerToken"),
        ({"maxResponseMs": 0}, "maxResponseMs"),
        ({"maxResponseMs": 60001}, "maxResponseMs"),
        ({"maxResponseMs": "100"}, "maxResponseMs"),
        ({"ignoreTls": 1}, "ignoreTls"),
        ({"caBundle": "not a certificate"}, "caBundle"),
        ({"caBundle": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}, "caBundle"),
        ({"caBundle": "x" * (256 * 1024 + 1)}, "caBundle"),
        ({"port": 80}, "port"),
        ({"recordType": "A"}, "recordType"),
    ],
)
def test_a_bad_value_is_refused_on_its_own_field(options, field):
    assert field in error_fields(**options)


def test_expected_status_is_stored_normalised():
    assert clean(expectedStatus=" 200 - 204 , 301,404-404")["expectedStatus"] == "200-204,301,404"


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$", ()),
        ("$.status", ("status",)),
        ("$.items[0].state", ("items", 0, "state")),
        ('$["odd key"][12]', ("odd key", 12)),
    ],
)
def test_the_documented_json_path_subset_is_parsed(path, steps):
    assert http.parse_json_path(path) == steps
    assert clean(jsonPath=path, jsonExpected="x")["jsonPath"] == path


def test_a_method_is_upper_cased_and_a_body_allowed_with_post():
    cleaned = clean(method="post", body='{"a": 1}', headers={"Content-Type": "application/json"})
    assert cleaned["method"] == "POST" and cleaned["body"] == '{"a": 1}'


def test_credentials_of_another_auth_type_are_dropped():
    cleaned = clean(authType="bearer", bearerToken="t0k", authUsername="u", authPassword="p")
    assert cleaned["bearerToken"] == "t0k"
    assert cleaned["authUsername"] == "" and cleaned["authPassword"] == ""
    assert http.SECRETS == {"authPassword", "bearerToken"}


def test_a_pem_ca_bundle_is_accepted():
    pem = CertificateAuthority().pem
    assert "BEGIN CERTIFICATE" in clean(caBundle=pem)["caBundle"]
    assert clean(caBundle="")["caBundle"] == ""
