"""http monitors probed against a local server: each option, each outcome."""

import base64
import json
import time

import pytest
from werkzeug import Response

import monitor.probe
from monitor.errors import ErrorKind
from monitor.kinds import http
from monitor.probe import Target, probe, probe_many


def check(url: str, timeout: float = 2, **options):
    return probe(Target(url, timeout, options=http.clean({"url": url, **options})))


def test_a_post_sends_its_body_and_headers(httpserver):
    httpserver.expect_request(
        "/hook", method="POST", data='{"ping": 1}', headers={"X-Token": "abc"}
    ).respond_with_data("ok")
    result = check(
        httpserver.url_for("/hook"), method="POST", body='{"ping": 1}', headers={"X-Token": "abc"}
    )
    assert result.up and result.status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
def test_the_method_is_the_one_asked_for(httpserver, method):
    httpserver.expect_request("/", method=method).respond_with_data("")
    assert check(httpserver.url_for("/"), method=method).up


def test_a_status_outside_expected_status_is_down_and_says_what_was_expected(httpserver):
    httpserver.expect_request("/").respond_with_data("fine", status=200)
    result = check(httpserver.url_for("/"), expectedStatus="401,403")
    assert not result.up and result.error_kind == ErrorKind.HTTP_STATUS
    assert result.error_message == "HTTP 200 OK, expected 401,403"


def test_an_expected_error_status_is_up(httpserver):
    httpserver.expect_request("/").respond_with_data("gone", status=410)
    result = check(httpserver.url_for("/"), expectedStatus="410")
    assert result.up and result.status_code == 410


def test_without_following_redirects_a_3xx_is_judged_by_expected_status(httpserver):
    httpserver.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": httpserver.url_for("/new")})
    )
    result = check(httpserver.url_for("/old"), followRedirects=False, expectedStatus="200")
    assert not result.up and result.status_code == 301
    assert check(httpserver.url_for("/old"), followRedirects=False).up  # 200-399
    assert len(httpserver.log) == 2  # /new was never asked for


def test_a_keyword_in_the_body_is_up_and_a_missing_one_down(httpserver):
    httpserver.expect_request("/").respond_with_data("<h1>All systems go</h1>")
    assert check(httpserver.url_for("/"), keyword="systems go").up
    result = check(httpserver.url_for("/"), keyword="Maintenance")
    assert not result.up and result.error_kind == ErrorKind.ASSERTION
    assert "'Maintenance' not found" in result.error_message


def test_keyword_absent_is_down_when_the_keyword_appears(httpserver):
    httpserver.expect_request("/").respond_with_data("Fatal error: database gone")
    result = check(httpserver.url_for("/"), keyword="Fatal error", keywordAbsent=True)
    assert not result.up and result.error_kind == ErrorKind.ASSERTION
    assert "must not appear" in result.error_message
    assert check(httpserver.url_for("/"), keyword="Warning", keywordAbsent=True).up


def test_the_keyword_is_searched_in_the_decoded_body_of_the_declared_charset(httpserver):
    httpserver.expect_request("/").respond_with_data(
        "Müller GmbH".encode("iso-8859-1"), content_type="text/html; charset=ISO-8859-1"
    )
    assert check(httpserver.url_for("/"), keyword="Müller").up


def test_a_body_in_an_unknown_charset_is_read_as_utf8(httpserver):
    httpserver.expect_request("/").respond_with_data(
        "Grüße".encode(), content_type="text/plain; charset=no-such-charset"
    )
    assert check(httpserver.url_for("/"), keyword="Grüße").up


def test_a_keyword_past_the_first_64_kib_is_not_found(httpserver):
    httpserver.expect_request("/").respond_with_data("x" * (70 * 1024) + "needle")
    result = check(httpserver.url_for("/"), keyword="needle")
    assert not result.up and result.error_kind == ErrorKind.ASSERTION


def test_a_json_value_as_expected_is_up(httpserver):
    httpserver.expect_request("/").respond_with_json({"items": [{"state": "ok", "n": 3}]})
    assert check(httpserver.url_for("/"), jsonPath="$.items[0].state", jsonExpected="ok").up
    assert check(httpserver.url_for("/"), jsonPath='$.items[0]["n"]', jsonExpected="3").up


def test_a_json_value_not_as_expected_is_down_with_both_values(httpserver):
    httpserver.expect_request("/").respond_with_json({"status": "down"})
    result = check(httpserver.url_for("/"), jsonPath="$.status", jsonExpected="ok")
    assert not result.up and result.error_kind == ErrorKind.ASSERTION
    assert result.error_message == '$.status is "down", expected "ok"'


@pytest.mark.parametrize(
    ("value", "expected"), [(True, "true"), (None, "null"), (False, "false"), (1.5, "1.5")]
)
def test_json_literals_compare_as_json_text(httpserver, value, expected):
    httpserver.expect_request("/").respond_with_json({"v": value})
    assert check(httpserver.url_for("/"), jsonPath="$.v", jsonExpected=expected).up


def test_a_missing_json_value_is_down(httpserver):
    httpserver.expect_request("/").respond_with_json({"items": []})
    result = check(httpserver.url_for("/"), jsonPath="$.items[0].state", jsonExpected="ok")
    assert not result.up and result.error_message == "$.items[0].state is missing"


def test_a_body_that_is_not_json_is_down_with_assertion(httpserver):
    httpserver.expect_request("/").respond_with_data("<html>oops</html>")
    result = check(httpserver.url_for("/"), jsonPath="$.status", jsonExpected="ok")
    assert not result.up and result.error_kind == ErrorKind.ASSERTION
    assert "not JSON" in result.error_message


def test_basic_auth_is_sent(httpserver):
    token = base64.b64encode(b"monitor:s3cret").decode()
    httpserver.expect_request("/", headers={"Authorization": f"Basic {token}"}).respond_with_data(
        "in"
    )
    result = check(
        httpserver.url_for("/"), authType="basic", authUsername="monitor", authPassword="s3cret"
    )
    assert result.up


def test_a_bearer_token_is_sent(httpserver):
    httpserver.expect_request("/", headers={"Authorization": "Bearer t0k3n"}).respond_with_data(
        "in"
    )
    assert check(httpserver.url_for("/"), authType="bearer", bearerToken="t0k3n").up


def test_a_slower_answer_than_max_response_ms_is_degraded_with_both_figures(httpserver):
    def slow(request):
        time.sleep(0.3)
        return Response("late but fine")

    httpserver.expect_request("/").respond_with_handler(slow)
    result = check(httpserver.url_for("/"), maxResponseMs=100)
    assert result.up and result.degraded and result.error_kind == ErrorKind.SLOW
    assert result.error_message.startswith("Answered in ")
    assert result.error_message.endswith("ms, above the 100 ms limit")


def test_a_fast_answer_is_up_without_a_warning(httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    result = check(httpserver.url_for("/"), maxResponseMs=60000)
    assert result.up and not result.degraded and result.error_kind == ""


def test_a_handle_reused_after_a_configured_check_forgets_its_options(httpserver):
    # probe_many reuses curl handles: a POST with headers and auth must not
    # leak into the plain GET that follows on the same handle.
    httpserver.expect_request("/").respond_with_data("ok")
    url = httpserver.url_for("/")
    posted = Target(
        url,
        2,
        options=http.clean(
            {"url": url, "method": "POST", "body": "x", "headers": {"X-A": "1"}, "keyword": "ok"}
        ),
    )
    results = probe_many([posted, Target(url, 2), Target(url, 2)], concurrency=1)
    assert all(r.up for r in results)
    methods = [request.method for request, _ in httpserver.log]
    assert methods == ["POST", "GET", "GET"]
    assert "X-A" not in httpserver.log[2][0].headers
    assert "Authorization" not in httpserver.log[2][0].headers


def test_json_assertion_and_keyword_bodies_are_read_whole_up_to_the_cap(httpserver):
    payload = {"filler": "y" * 30000, "status": "ok"}
    httpserver.expect_request("/").respond_with_data(json.dumps(payload))
    assert check(httpserver.url_for("/"), jsonPath="$.status", jsonExpected="ok").up


def test_the_next_batch_reuses_the_curl_handles_without_the_last_checks_options(httpserver):
    # monitor.probe keeps a batch's multi handle and curl handles for the next
    # batch; a check's own method, headers and body must not outlive it.
    httpserver.expect_request("/").respond_with_data("ok")
    engines = monitor.probe._ENGINES
    assert check(httpserver.url_for("/"), method="POST", body="x", headers={"X-Token": "a"}).up
    [engine] = engines._idle
    [transfer] = engine.idle
    assert probe(Target(httpserver.url_for("/"), 2)).up
    assert engines._idle == [engine] and engine.idle == [transfer]  # the same handles
    first, second = (request for request, _ in httpserver.log)
    assert first.method == "POST" and first.headers.get("X-Token") == "a"
    assert second.method == "GET" and "X-Token" not in second.headers and not second.data
