"""Gatus: the `endpoints:` of its configuration file as Candidates.

An endpoint is judged by its conditions ("[STATUS] == 200"); those with an
equivalent become options, the others are reported as notes. A condition on
the certificate's expiry becomes a monitor of its own (a tls monitor), as
Uptime checks certificates apart.
"""

import ipaddress
import math
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from sites.importers import common
from sites.importers.common import Candidate, NotMapped, UnreadableFile

DEFAULT_INTERVAL = 60  # Gatus's default
DEFAULT_TIMEOUT = 10  # Gatus's client default
# An alert without thresholds uses Gatus's defaults.
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_SUCCESS_THRESHOLD = 2
ALL_STATUSES = frozenset(range(100, 600))
KNOWN_KEYS = frozenset(
    {
        "name",
        "group",
        "url",
        "interval",
        "method",
        "headers",
        "body",
        "conditions",
        "alerts",
        "enabled",
        "client",
        "dns",
        "ui",
        "extra-labels",
    }
)
KNOWN_CLIENT_KEYS = frozenset({"insecure", "ignore-redirect", "timeout"})
_CONDITION = re.compile(r"\s*(\S+?)\s*(==|!=|<=|>=|<|>)\s*(.*?)\s*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
}


def read(path: Path) -> list[Candidate]:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UnreadableFile(f"not a readable YAML file ({exc})") from None
    endpoints = config.get("endpoints") if isinstance(config, dict) else None
    if not isinstance(endpoints, list):
        raise UnreadableFile("no `endpoints:` list: not a Gatus configuration")
    return [
        monitor
        for number, endpoint in enumerate(endpoints, start=1)
        for monitor in candidates(endpoint, number)
    ]


def candidates(endpoint, number: int) -> list[Candidate]:
    """The monitor an endpoint becomes, and a tls monitor if it checks the certificate."""
    if not isinstance(endpoint, dict):
        return [Candidate(name=f"endpoint {number}", problem="not a mapping of settings")]
    name = str(endpoint.get("name") or f"endpoint {number}")
    notes: list[str] = []
    try:
        kind, options = _target(endpoint, notes)
        judged = _conditions(endpoint.get("conditions") or [], kind)
        every = common.interval(duration(endpoint.get("interval"), DEFAULT_INTERVAL), notes)
        settings = _settings(endpoint, every, notes)
    except NotMapped as exc:
        return [Candidate(name=name, problem=str(exc))]
    notes += _unmapped_keys(endpoint) + judged.notes
    main = Candidate(
        name=name, kind=kind, options={**options, **judged.options}, settings=settings, notes=notes
    )
    if judged.cert_days is None:
        return [main]
    if kind == "tls":
        main.options["certExpiryDays"] = judged.cert_days
        return [main]
    certificate = _certificate_monitor(main, judged.cert_days)
    return [main] if certificate is None else [main, certificate]


# --- the endpoint's target -----------------------------------------------------------


def _target(endpoint: dict, notes: list[str]) -> tuple[str, dict]:
    url = str(endpoint.get("url") or "")
    if "${" in url:
        notes.append(
            "the URL has ${...}: Gatus fills in environment variables, the import does not"
        )
    if isinstance(endpoint.get("dns"), dict):
        return "dns", _dns(endpoint["dns"], url, notes)
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return "http", _request(endpoint, url, notes)
    if scheme in ("tcp", "tls"):
        host, port = _host_port(url)
        return scheme, {"host": host, "port": port}
    raise NotMapped(f"Gatus {scheme or 'plain'} endpoints ({url}) have no equivalent")


def _request(endpoint: dict, url: str, notes: list[str]) -> dict:
    options: dict = {"url": url}
    method = str(endpoint.get("method") or "GET").upper()
    if method != "GET":
        options["method"] = method
    headers = endpoint.get("headers") or {}
    if not isinstance(headers, dict):
        raise NotMapped("its headers are not a mapping")
    if headers:
        options["headers"] = {str(name): str(value) for name, value in headers.items()}
        if any("${" in value for value in options["headers"].values()):
            notes.append(
                "a header has ${...}: Gatus fills in environment variables, the import does not"
            )
    if endpoint.get("body"):
        options["body"] = str(endpoint["body"])
    client = _client(endpoint)
    if client.get("insecure"):
        options["ignoreTls"] = True
    if client.get("ignore-redirect"):
        options["followRedirects"] = False
    return options


def _dns(block: dict, url: str, notes: list[str]) -> dict:
    """Gatus's url is the resolver ("8.8.8.8", "dns://8.8.8.8:53")."""
    options = {
        "host": str(block.get("query-name") or ""),
        "recordType": str(block.get("query-type") or "A").upper(),
    }
    server = url.removeprefix("dns://").strip()
    if _is_address(server):
        options["resolver"] = server
    elif server:
        notes.append(
            f"the resolver {server} is a name, not an address: the system resolver is used"
        )
    return options


def _is_address(server: str) -> bool:
    """ "9.9.9.9", "9.9.9.9:53", "2620:fe::fe" or "[2620:fe::fe]:53"."""
    if server.count(":") == 1:
        server = server.partition(":")[0]
    elif server.startswith("["):
        server = server[1:].partition("]")[0]
    try:
        ipaddress.ip_address(server)
    except ValueError:
        return False
    return True


def _host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        return parts.hostname or "", parts.port
    except ValueError:
        raise NotMapped(f"the port in {url} is not a number from 1 to 65535") from None


# --- conditions --------------------------------------------------------------


@dataclass
class Judged:
    """What an endpoint's conditions become: options, a certificate limit, and notes."""

    options: dict = field(default_factory=dict)
    cert_days: int | None = None
    notes: list[str] = field(default_factory=list)
    statuses: frozenset | None = None


def _conditions(conditions: list, kind: str) -> Judged:
    if not isinstance(conditions, list):
        raise NotMapped("its conditions are not a list")
    judged = Judged()
    for condition in conditions:
        text = str(condition)
        match = _CONDITION.fullmatch(text)
        handled = match is not None and _condition(judged, kind, *match.groups())
        if not handled:
            judged.notes.append(f"condition not mapped: {text}")
    if judged.statuses is not None:
        judged.options["expectedStatus"] = _ranges(judged.statuses)
    elif kind == "http":
        judged.notes.append("no [STATUS] condition: Gatus accepts any status, Uptime 200-399")
    return judged


def _condition(judged: Judged, kind: str, left: str, operator: str, right: str) -> bool:
    """Apply one condition; False if it has no equivalent."""
    if left == "[STATUS]" and kind == "http":
        return _status(judged, operator, right)
    if left == "[RESPONSE_TIME]" and kind == "http" and operator in ("<", "<="):
        return _response_time(judged, operator, right)
    if left == "[CERTIFICATE_EXPIRATION]" and kind in ("http", "tls"):
        return _certificate(judged, operator, right)
    if left == "[CONNECTED]" and kind in ("tcp", "tls"):
        return operator == "==" and right == "true"  # what the monitor checks anyway
    if left == "[DNS_RCODE]" and kind == "dns":
        return operator == "==" and right == "NOERROR"
    if left == "[BODY]" and kind == "dns" and operator == "==" and "(" not in right:
        judged.options.setdefault("expected", []).append(right)
        return True
    if left == "[BODY]" and kind == "http":
        return _keyword(judged, operator, right)
    if left.startswith("[BODY].") and kind == "http" and operator == "==":
        return _json(judged, left.removeprefix("[BODY]."), right)
    return False


def _status(judged: Judged, operator: str, right: str) -> bool:
    """Each condition narrows the accepted codes; all of them together make the ranges."""
    codes = _status_codes(operator, right)
    if codes is None:
        return False
    previous = ALL_STATUSES if judged.statuses is None else judged.statuses
    judged.statuses = previous & codes
    return True


def _status_codes(operator: str, right: str) -> frozenset | None:
    if right.startswith("any(") and right.endswith(")") and operator == "==":
        values = [value.strip() for value in right[4:-1].split(",")]
        return frozenset(int(v) for v in values) if all(v.isdigit() for v in values) else None
    if right.startswith("pat(") and right.endswith(")") and operator in ("==", "!="):
        matching = {code for code in ALL_STATUSES if fnmatchcase(str(code), right[4:-1])}
        return frozenset(matching if operator == "==" else ALL_STATUSES - matching)
    if not right.isdigit():
        return None
    number = int(right)
    tests = {
        "==": number.__eq__,
        "!=": number.__ne__,
        "<": number.__gt__,
        "<=": number.__ge__,
        ">": number.__lt__,
        ">=": number.__le__,
    }
    return frozenset(code for code in ALL_STATUSES if tests[operator](code))


def _ranges(codes: frozenset) -> str:
    """{200, 201, 202, 404} → "200-202,404"."""
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


def _response_time(judged: Judged, operator: str, right: str) -> bool:
    if not right.isdigit():
        return False
    # Gatus fails at this time and above; Uptime calls slower than maxResponseMs degraded.
    limit = int(right) - 1 if operator == "<" else int(right)
    judged.options["maxResponseMs"] = limit
    judged.notes.append(
        f"[RESPONSE_TIME] {operator} {right}: slower than {limit} ms is degraded here, "
        "not down as in Gatus"
    )
    return True


def _certificate(judged: Judged, operator: str, right: str) -> bool:
    if operator not in (">", ">="):
        return False
    try:
        seconds = duration(right, None)
    except NotMapped:
        return False
    judged.cert_days = max(1, math.ceil(seconds / 86400))
    judged.notes.append(
        f"[CERTIFICATE_EXPIRATION] {operator} {right}: a certificate expiring within "
        f"{judged.cert_days} days is degraded (with an alert) here, not down as in Gatus"
    )
    return True


def _keyword(judged: Judged, operator: str, right: str) -> bool:
    """`[BODY] == pat(*text*)`: the text must appear (!=: must not)."""
    if not (right.startswith("pat(*") and right.endswith("*)")) or operator not in ("==", "!="):
        return False
    text = right[5:-2]
    if not text or any(ch in text for ch in "*?[") or "keyword" in judged.options:
        return False
    judged.options["keyword"] = text
    if operator == "!=":
        judged.options["keywordAbsent"] = True
    return True


def _json(judged: Judged, path: str, right: str) -> bool:
    """`[BODY].status == UP`: the value at the path, as text, is the expected one."""
    json_path = common.json_path(path)
    if json_path is None or "jsonPath" in judged.options or right.startswith(("pat(", "any(")):
        return False
    if right.startswith("["):  # another placeholder, like [STATUS]
        return False
    judged.options.update(jsonPath=json_path, jsonExpected=right)
    return True


def _certificate_monitor(main: Candidate, days: int) -> Candidate | None:
    """A tls monitor of the https endpoint's host, for its certificate condition."""
    url = urlsplit(main.options["url"])
    if url.scheme != "https":
        main.notes.append("[CERTIFICATE_EXPIRATION] on an http:// URL: no certificate to check")
        return None
    options = {"host": url.hostname or "", "certExpiryDays": days}
    if url.port and url.port != 443:
        options["port"] = url.port
    return Candidate(
        name=f"{main.name} (certificate)", kind="tls", options=options, settings=dict(main.settings)
    )


# --- schedule, thresholds, the rest --------------------------------------------------


def duration(value, default: float | None) -> float:
    """Gatus's durations ("30s", "5m", "1h30m", "48h") in seconds."""
    if value is None:
        return default
    text = str(value).strip()
    parts = list(_DURATION_PART.finditer(text))
    if not parts or "".join(part.group(0) for part in parts) != text:
        raise NotMapped(f"{text!r} is not a duration (like 30s, 5m or 1h)")
    return sum(
        float(number) * _UNIT_SECONDS[unit] for number, unit in (part.groups() for part in parts)
    )


def _settings(endpoint: dict, every: int, notes: list[str]) -> dict:
    settings = {"interval": every, "enabled": endpoint.get("enabled", True) is not False}
    client = _client(endpoint)
    settings["timeout"] = common.timeout(
        duration(client.get("timeout"), DEFAULT_TIMEOUT), every, notes
    )
    settings.update(_thresholds(endpoint.get("alerts") or [], notes))
    return settings


def _thresholds(alerts: list, notes: list[str]) -> dict:
    """Gatus counts failures per alert; Uptime per monitor: the first alert's counts."""
    alerts = [alert for alert in alerts if isinstance(alert, dict)]
    if not alerts:
        return {}
    counts = {
        (
            alert.get("failure-threshold", DEFAULT_FAILURE_THRESHOLD),
            alert.get("success-threshold", DEFAULT_SUCCESS_THRESHOLD),
        )
        for alert in alerts
    }
    failures, successes = (
        alerts[0].get("failure-threshold", DEFAULT_FAILURE_THRESHOLD),
        alerts[0].get("success-threshold", DEFAULT_SUCCESS_THRESHOLD),
    )
    if len(counts) > 1:
        notes.append(
            f"the alerts count failures differently: the first alert's "
            f"{failures} failures / {successes} successes are used"
        )
    if not all(isinstance(count, int) for count in (failures, successes)):
        raise NotMapped(f"its alert thresholds are not whole numbers: {failures}, {successes}")
    return {
        "failure_threshold": common.threshold(failures, "failure-threshold", notes),
        "success_threshold": common.threshold(successes, "success-threshold", notes),
    }


def _client(endpoint: dict) -> dict:
    client = endpoint.get("client") or {}
    if not isinstance(client, dict):
        raise NotMapped("its client settings are not a mapping")
    return client


def _unmapped_keys(endpoint: dict) -> list[str]:
    client = _client(endpoint)
    return [
        *(f"{key} not mapped" for key in endpoint if key not in KNOWN_KEYS),
        *(f"client.{key} not mapped" for key in client if key not in KNOWN_CLIENT_KEYS),
    ]
