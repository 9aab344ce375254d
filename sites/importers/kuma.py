"""Uptime Kuma: its database file's `monitor` table, row by row, as Candidates.

Column names are Uptime Kuma's own (db/knex_init_db.js and the migrations
after it, in louislam/uptime-kuma). Older databases lack some columns, so a
row is read as a dict and a missing column counts as its default.
"""

import ipaddress
import json
import sqlite3
from pathlib import Path

from sites.importers import common
from sites.importers.common import Candidate, NotMapped, UnreadableFile

SQLITE_HEADER = b"SQLite format 3\x00"
# Kuma sends a body with the Content-Type of its encoding (server/model/monitor.js).
BODY_CONTENT_TYPES = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "xml": "text/xml; charset=utf-8",
}
KUMA_DEFAULT_INTERVAL = 60
DNS_PORT = 53


def read(path: Path) -> list[Candidate]:
    """Every monitor of the database, in id order; the file is opened read-only."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UnreadableFile(f"cannot open it as SQLite ({exc})") from None
    try:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM monitor ORDER BY id").fetchall()
    except sqlite3.Error as exc:
        raise UnreadableFile(f"no readable Uptime Kuma monitor table ({exc})") from None
    finally:
        connection.close()
    return [candidate(dict(row)) for row in rows]


def candidate(row: dict) -> Candidate:
    """One monitor row as a Candidate, with what maps, what does not and why."""
    name = (row.get("name") or "").strip() or f"Kuma monitor {row.get('id')}"
    notes: list[str] = []
    mapper = MAPPERS.get(row.get("type") or "http")
    try:
        if mapper is None:
            raise NotMapped(_unsupported(row.get("type")))
        if row.get("upside_down"):
            raise NotMapped("upside-down mode (up when the check fails) has no equivalent")
        kind, options = mapper(row, notes)
    except NotMapped as exc:
        return Candidate(name=name, problem=str(exc))
    settings = _settings(row, kind, notes)
    return Candidate(name=name, kind=kind, options=options, settings=settings, notes=notes)


def _unsupported(kind: str | None) -> str:
    if kind == "group":
        return "a Kuma group holds monitors; it checks nothing itself"
    return f'Kuma monitors of type "{kind}" have no equivalent in Uptime'


# --- one function per Kuma type -------------------------------------------------


def _http(row: dict, notes: list[str]) -> tuple[str, dict]:
    return "http", _request(row)


def _keyword(row: dict, notes: list[str]) -> tuple[str, dict]:
    options = _request(row)
    options["keyword"] = row.get("keyword") or ""
    if row.get("invert_keyword"):
        options["keywordAbsent"] = True
    return "http", options


def _json_query(row: dict, notes: list[str]) -> tuple[str, dict]:
    """Kuma's json_path is a JSONata expression; only a plain path has an equivalent."""
    expression = row.get("json_path") or ""
    # JSONata reads "a-b" as a subtraction, not a name with a hyphen.
    path = None if "-" in expression else common.json_path(expression)
    if path is None:
        raise NotMapped(
            f"the JSON query {expression!r} is more than a path (Uptime takes one like $.status)"
        )
    operator = row.get("json_path_operator") or "=="
    if operator != "==":
        raise NotMapped(f'the JSON query compares with "{operator}"; Uptime compares equality')
    options = _request(row)
    options["jsonPath"] = path
    options["jsonExpected"] = row.get("expected_value") or ""
    return "http", options


def _port(row: dict, notes: list[str]) -> tuple[str, dict]:
    return "tcp", {"host": row.get("hostname") or "", "port": row.get("port")}


def _dns(row: dict, notes: list[str]) -> tuple[str, dict]:
    options = {"host": row.get("hostname") or "", "recordType": row.get("dns_resolve_type") or "A"}
    resolver = _resolver(row, notes)
    if resolver:
        options["resolver"] = resolver
    if (row.get("conditions") or "[]").strip() != "[]":
        notes.append("the DNS conditions are not imported: any answer counts as up")
    return "dns", options


def _push(row: dict, notes: list[str]) -> tuple[str, dict]:
    """Kuma marks a push monitor down `maxretries` retries after a missed interval."""
    options = {"period": row.get("interval") or KUMA_DEFAULT_INTERVAL}
    grace = (row.get("maxretries") or 0) * (row.get("retry_interval") or 0)
    if grace:
        options["grace"] = grace
    notes.append("the job must call this monitor's new ping URL instead of Kuma's push URL")
    return "heartbeat", options


MAPPERS = {
    "http": _http,
    "keyword": _keyword,
    "json-query": _json_query,
    "port": _port,
    "dns": _dns,
    "push": _push,
}


# --- the parts several types share ------------------------------------------------


def _request(row: dict) -> dict:
    """An http monitor's request and accepted answers (the options that differ from ours)."""
    options: dict = {"url": row.get("url") or ""}
    method = (row.get("method") or "GET").upper()
    if method != "GET":
        options["method"] = method
    headers = _headers(row.get("headers"))
    body = row.get("body") or ""
    if body.strip():
        options["body"] = body
        content_type = BODY_CONTENT_TYPES.get(row.get("http_body_encoding") or "json")
        if content_type and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = content_type
    if headers:
        options["headers"] = headers
    options["expectedStatus"] = _accepted_statuses(row.get("accepted_statuscodes_json"))
    if row.get("maxredirects") == 0:
        options["followRedirects"] = False
    if row.get("ignore_tls"):
        options["ignoreTls"] = True
    options.update(_auth(row))
    return options


def _headers(text: str | None) -> dict:
    if not (text or "").strip():
        return {}
    try:
        headers = json.loads(text)
    except ValueError:
        raise NotMapped("its headers are not JSON") from None
    if not isinstance(headers, dict):
        raise NotMapped("its headers are not a JSON object")
    return {
        str(name): value if isinstance(value, str) else json.dumps(value)
        for name, value in headers.items()
    }


def _accepted_statuses(text: str | None) -> str:
    """["200-299", "404"] → "200-299,404" (Kuma's default when the column is empty)."""
    try:
        codes = json.loads(text or '["200-299"]')
    except ValueError:
        raise NotMapped(f"its accepted status codes are not readable: {text!r}") from None
    if not isinstance(codes, list) or not codes:
        raise NotMapped(f"its accepted status codes are not readable: {text!r}")
    return ",".join(str(code) for code in codes)


def _auth(row: dict) -> dict:
    """Basic auth; the other methods (NTLM, mTLS, OAuth2) have no equivalent."""
    # Databases older than NTLM support have no auth_method: a user name meant basic auth.
    method = row.get("auth_method") if "auth_method" in row else "basic"
    if method in (None, ""):
        return {}
    if method != "basic":
        raise NotMapped(f"{method} authentication has no equivalent")
    if not row.get("basic_auth_user"):
        return {}
    return {
        "authType": "basic",
        "authUsername": row["basic_auth_user"],
        "authPassword": row.get("basic_auth_pass") or "",
    }


def _resolver(row: dict, notes: list[str]) -> str:
    """Kuma's resolver and port as "ip" or "ip:port"; a name falls back to the system's."""
    server = (row.get("dns_resolve_server") or "").strip()
    if "," in server:
        notes.append(f"only the first of the resolvers {server} is used")
        server = server.split(",")[0].strip()
    if not server:
        return ""
    try:
        address = ipaddress.ip_address(server)
    except ValueError:
        notes.append(
            f"the resolver {server} is a name, not an address: the system resolver is used"
        )
        return ""
    port = row.get("port") or DNS_PORT
    if port == DNS_PORT:
        return str(address)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def _settings(row: dict, kind: str, notes: list[str]) -> dict:
    """Schedule and confirmation: Kuma's retries are the failures before down, less one."""
    every = common.interval(row.get("interval") or KUMA_DEFAULT_INTERVAL, notes)
    settings = {"interval": every, "enabled": bool(row.get("active", 1))}
    if kind == "heartbeat":
        # Its retries became the grace: one missed ping past it is down, as in Kuma.
        return {**settings, "failure_threshold": 1}
    # A timeout of 0 means Kuma's default: 80 % of the interval.
    seconds = row.get("timeout") or 0
    if seconds > 0:
        settings["timeout"] = common.timeout(seconds, every, notes)
    else:
        settings["timeout"] = common.timeout(every * 0.8, every, [])  # not chosen: no note
    settings["failure_threshold"] = common.threshold(
        (row.get("maxretries") or 0) + 1, "failures before down (retries + 1)", notes
    )
    settings["retry_interval"] = common.retry_interval(
        row.get("retry_interval") or every, every, notes
    )
    return settings
