"""tls monitors and https checks against local TLS servers with a private CA."""

import pytest

import monitor.probe
from monitor.errors import ErrorKind
from monitor.kinds import http, tls
from monitor.probe import Target, probe, probe_many
from tests.tls_targets import CertificateAuthority, TlsServer, self_signed


@pytest.fixture(scope="module")
def ca():
    return CertificateAuthority()


@pytest.fixture
def trusted(ca, tmp_path, monkeypatch):
    """Make `ca` the engine's trusted roots (tls monitors take no CA bundle)."""
    bundle = tmp_path / "roots.pem"
    bundle.write_text(ca.pem)
    monkeypatch.setattr(monitor.probe, "CA_BUNDLE", str(bundle))
    return ca


def tls_check(server: TlsServer, **options):
    cleaned = tls.clean({"host": "127.0.0.1", "port": server.port, **options})
    return probe(Target(tls.target(cleaned), 2, kind="tls", options=cleaned))


def https_check(server: TlsServer, **options):
    cleaned = http.clean({"url": server.url, **options})
    return probe(Target(server.url, 2, options=cleaned))


def test_a_valid_certificate_is_up_with_its_expiry(trusted):
    leaf = trusted.issue(days=90)
    with TlsServer(leaf, http=False) as server:
        result = tls_check(server)
    assert result.up and not result.degraded and result.error_kind == ""
    assert result.cert_expires_at == leaf.not_after


def test_a_certificate_expiring_within_cert_expiry_days_is_degraded(trusted):
    leaf = trusted.issue(days=5)
    with TlsServer(leaf, http=False) as server:
        result = tls_check(server)
        later = tls_check(server, certExpiryDays=3)
    assert result.up and result.degraded and result.error_kind == ErrorKind.CERT_EXPIRING
    assert result.error_message == (
        f"Certificate expires in 5 days ({leaf.not_after.date().isoformat()})"
    )
    assert later.up and not later.degraded


@pytest.mark.parametrize(
    ("make_leaf", "words"),
    [
        (lambda ca: ca.issue(expired=True), "expired"),
        (lambda ca: self_signed(), "certificate"),
        (lambda ca: ca.issue(names=("other.invalid",)), ""),
    ],
    ids=["expired", "self-signed", "wrong-name"],
)
def test_an_expired_untrusted_or_misnamed_certificate_is_down_with_tls(trusted, make_leaf, words):
    with TlsServer(make_leaf(trusted), http=False) as server:
        result = tls_check(server)
    assert not result.up and result.error_kind == ErrorKind.TLS
    assert words in result.error_message
    assert result.cert_expires_at is None


def test_an_https_check_trusts_a_private_ca_through_ca_bundle(ca):
    leaf = ca.issue(days=40)
    with TlsServer(leaf) as server:
        refused = https_check(server)
        result = https_check(server, caBundle=ca.pem)
    assert not refused.up and refused.error_kind == ErrorKind.TLS
    assert result.up and result.status_code == 200
    assert result.cert_expires_at == leaf.not_after


def test_the_ca_bundle_adds_to_the_default_roots(trusted):
    other = CertificateAuthority("Another CA")
    with TlsServer(trusted.issue()) as server:
        assert https_check(server, caBundle=other.pem).up


def test_ignore_tls_accepts_an_untrusted_certificate_and_still_reads_its_expiry():
    leaf = self_signed(days=20)
    with TlsServer(leaf) as server:
        result = https_check(server, ignoreTls=True)
    assert result.up and result.cert_expires_at == leaf.not_after


def test_a_session_made_without_verification_is_never_resumed_by_a_verifying_check():
    with TlsServer(self_signed()) as server:
        for _ in range(3):
            assert https_check(server, ignoreTls=True).up
        result = https_check(server)
    assert not result.up and result.error_kind == ErrorKind.TLS


def test_checks_of_one_host_resume_its_session_and_keep_reporting_the_expiry(ca):
    leaf = ca.issue(days=60)
    with TlsServer(leaf) as server:
        results = [https_check(server, caBundle=ca.pem) for _ in range(4)]
    assert all(r.up and r.cert_expires_at == leaf.not_after for r in results)
    assert server.resumed[0] is False
    assert any(server.resumed[1:])


def test_a_full_handshake_comes_back_once_the_last_is_older_than_allowed(ca, monkeypatch):
    monkeypatch.setattr(monitor.probe, "FULL_HANDSHAKE_EVERY", -1)
    with TlsServer(ca.issue()) as server:
        for _ in range(3):
            assert https_check(server, caBundle=ca.pem).up
    assert server.resumed == [False, False, False]


def test_tls_and_http_checks_share_one_batch(trusted, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    with TlsServer(trusted.issue(), http=False) as tls_server, TlsServer(trusted.issue()) as web:
        options = tls.clean({"host": "127.0.0.1", "port": tls_server.port})
        targets = [
            Target(tls.target(options), 2, site_id=1, kind="tls", options=options),
            Target(httpserver.url_for("/"), 2, site_id=2),
            Target(web.url, 2, site_id=3),
        ]
        results = probe_many(targets, concurrency=2)
    assert [r.site_id for r in results] == [1, 2, 3]
    assert all(r.up for r in results)
    assert results[0].cert_expires_at and results[2].cert_expires_at
    assert results[1].cert_expires_at is None
