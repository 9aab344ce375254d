"""The seed's ping test, offline: every case against a server on 127.0.0.1."""

import time

import pytest
from werkzeug import Response

from monitor.probe import ErrorKind, Target, is_up_status, probe, probe_many


def probe_url(url: str, timeout: float = 2) -> object:
    return probe(Target(url=url, timeout=timeout))


def test_a_200_answer_is_up(httpserver):
    httpserver.expect_request("/").respond_with_data("hello")
    result = probe_url(httpserver.url_for("/"))
    assert result.up
    assert result.status_code == 200
    assert result.error_kind == ""
    assert result.response_ms is not None and result.response_ms >= 0


def test_a_redirect_is_followed_to_its_final_answer(httpserver):
    httpserver.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": httpserver.url_for("/new")})
    )
    httpserver.expect_request("/new").respond_with_data("moved here")
    result = probe_url(httpserver.url_for("/old"))
    assert result.up and result.status_code == 200


def test_a_3xx_answer_without_a_location_counts_as_up(httpserver):
    # The seed's comment says 2xx and 3xx are up; its code only counted 2xx.
    httpserver.expect_request("/").respond_with_data("", status=304)
    result = probe_url(httpserver.url_for("/"))
    assert result.up and result.status_code == 304


def test_a_redirect_loop_is_down_with_the_redirect_reason(httpserver):
    httpserver.expect_request("/loop").respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for("/loop")})
    )
    result = probe_url(httpserver.url_for("/loop"))
    assert not result.up and result.error_kind == ErrorKind.REDIRECTS


@pytest.mark.parametrize("status", [404, 500, 503])
def test_an_error_status_is_down_and_keeps_the_code(httpserver, status):
    httpserver.expect_request("/").respond_with_data("nope", status=status)
    result = probe_url(httpserver.url_for("/"))
    assert not result.up
    assert result.status_code == status
    assert result.error_kind == ErrorKind.HTTP_STATUS
    assert str(status) in result.error_message


def test_an_answer_slower_than_the_timeout_is_down_with_timeout(httpserver):
    def slow(request):
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    result = probe_url(httpserver.url_for("/slow"), timeout=0.3)
    assert not result.up and result.error_kind == ErrorKind.TIMEOUT
    assert time.monotonic() - started < 1.4  # gave up without waiting for the answer


def test_a_refused_connection_is_down_with_connect(refused_url):
    result = probe_url(refused_url)
    assert not result.up and result.error_kind == ErrorKind.CONNECT
    assert "refused" in result.error_message.lower()


def test_an_unresolvable_name_is_down_with_dns():
    result = probe_url("https://not-a-real-site.invalid/")
    assert not result.up and result.error_kind == ErrorKind.DNS


def test_an_unsupported_scheme_is_down_with_invalid_url():
    result = probe_url("invalid://scheme")
    assert not result.up and result.error_kind == ErrorKind.INVALID_URL


def test_plain_http_to_a_tls_port_is_down_with_tls(httpserver):
    httpserver.expect_request("/").respond_with_data("plain")
    result = probe_url(httpserver.url_for("/").replace("http://", "https://"))
    assert not result.up and result.error_kind == ErrorKind.TLS


def test_a_huge_body_is_read_only_up_to_the_cap(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * (8 * 1024 * 1024))
    result = probe_url(httpserver.url_for("/big"))
    assert result.up and result.status_code == 200


def test_the_probe_sends_a_user_agent_that_names_the_monitor(httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    probe_url(httpserver.url_for("/"))
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].startswith("Uptime/")


def test_probe_many_returns_one_result_per_target_in_order(httpserver, refused_url):
    httpserver.expect_request("/a").respond_with_data("a")
    httpserver.expect_request("/b").respond_with_data("b", status=500)
    targets = [
        Target(httpserver.url_for("/a"), 2, site_id=1),
        Target(refused_url, 2, site_id=2),
        Target(httpserver.url_for("/b"), 2, site_id=3),
    ]
    results = probe_many(targets, concurrency=3)
    assert [r.site_id for r in results] == [1, 2, 3]
    assert [r.up for r in results] == [True, False, False]


@pytest.mark.parametrize(
    ("code", "up"), [(199, False), (200, True), (302, True), (399, True), (400, False)]
)
def test_up_means_2xx_or_3xx(code, up):
    assert is_up_status(code) is up
