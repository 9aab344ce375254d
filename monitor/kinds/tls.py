"""tls: the certificate a host presents on a port is valid (chain, name,
dates) and does not expire within certExpiryDays; sooner is degraded."""

from datetime import datetime, timedelta

from monitor.kinds import _common, http

OPTIONS = {"host": "", "port": 443, "certExpiryDays": 14, "caBundle": ""}
SECRETS = frozenset()
MAX_EXPIRY_DAYS = 365


def clean(options: dict) -> dict:
    _common.unknown_options(options, OPTIONS)
    raw = {**OPTIONS, **options}
    host = _common.host(raw["host"])
    port = _common.port(raw["port"])
    days = _common.whole_number(
        raw["certExpiryDays"], "certExpiryDays", low=1, high=MAX_EXPIRY_DAYS
    )
    _common.guarded(host, port)
    return {
        "host": host,
        "port": port,
        "certExpiryDays": days,
        "caBundle": http.clean_ca_bundle(raw["caBundle"]),
    }


def target(options: dict) -> str:
    return f"tls://{_common.bracketed(options['host'])}:{options['port']}"


def expiry_warning(expires_at: datetime, now: datetime, options: dict | None) -> str | None:
    """ "Certificate expires in 5 days (2026-12-04)" when that is within
    certExpiryDays, else None."""
    days = (options or {}).get("certExpiryDays") or OPTIONS["certExpiryDays"]
    left = expires_at - now
    if left >= timedelta(days=days):
        return None
    whole_days = round(left / timedelta(days=1))
    when = "today" if whole_days < 1 else f"in {whole_days} day{'s' if whole_days != 1 else ''}"
    return f"Certificate expires {when} ({expires_at.date().isoformat()})"
