"""http: a request to a URL, judged by its status and, optionally, its body.

Validation is here and so is the judging of an answer (expectedStatus,
keyword, JSON assertion): pure functions monitor.probe calls once libcurl has
the answer. The JSON path is a small subset of JSONPath: `$`, then any of
`.name`, `["name"]` and `[index]` (e.g. `$.items[0]["state"]`).
"""

import codecs
import functools
import json
import re

from cryptography import x509
from django.core.exceptions import ValidationError

from monitor.kinds import _common
from sites.targets import clean_target

OPTIONS = {
    "url": "",
    "method": "GET",
    "headers": {},
    "body": "",
    "expectedStatus": "200-399",
    "followRedirects": True,
    "keyword": "",
    "keywordAbsent": False,
    "jsonPath": "",
    "jsonExpected": None,
    "authType": "",
    "authUsername": "",
    "authPassword": "",
    "bearerToken": "",
    "maxResponseMs": None,
    "ignoreTls": False,
    "caBundle": "",
}
SECRETS = frozenset({"authPassword", "bearerToken"})

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_STATUS = OPTIONS["expectedStatus"]
MAX_HEADERS = 30
MAX_HEADER_VALUE = 4096
MAX_BODY = 64 * 1024
MAX_KEYWORD = 500
MAX_JSON_TEXT = 500
MAX_STATUS_TEXT = 200
MAX_RESPONSE_MS = 60_000
MAX_CA_BUNDLE = 256 * 1024
MAX_SECRET = 4096
# RFC 9110 section 5.6.2: a field name is a token.
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Set by libcurl from the request itself; a second copy would confuse servers.
_RESERVED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "expect"})
_JSON_STEP_RE = re.compile(
    r"""\.([A-Za-z_][A-Za-z0-9_-]*)      # .name
      | \["((?:[^"\\]|\\.)*)"\]          # ["name"]
      | \[(0|[1-9][0-9]*)\]              # [index]""",
    re.VERBOSE,
)


def clean(options: dict) -> dict:
    _common.unknown_options(options, OPTIONS)
    raw = {**OPTIONS, **options}
    cleaned = {"url": _url(raw["url"])}
    cleaned["method"] = _method(raw["method"])
    cleaned["headers"] = _headers(raw["headers"])
    cleaned["body"] = _body(raw["body"], cleaned["method"])
    cleaned["expectedStatus"] = format_status(_status_ranges_or_error(raw["expectedStatus"]))
    cleaned["followRedirects"] = _boolean(raw["followRedirects"], "followRedirects")
    cleaned.update(_keyword(raw, cleaned["method"]))
    cleaned.update(_json_assertion(raw, cleaned["method"]))
    cleaned.update(_auth(raw))
    cleaned["maxResponseMs"] = _max_response_ms(raw["maxResponseMs"])
    cleaned["ignoreTls"] = _boolean(raw["ignoreTls"], "ignoreTls")
    cleaned["caBundle"] = clean_ca_bundle(raw["caBundle"])
    return cleaned


def target(options: dict) -> str:
    return options["url"]


# --- validation, one function per field -------------------------------------


def _error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _text(value, field: str, *, limit: int) -> str:
    if not isinstance(value, str):
        raise _error(field, "Must be text.")
    if len(value) > limit:
        raise _error(field, f"At most {limit} characters ({len(value)} given).")
    return value


def _boolean(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise _error(field, "Must be true or false.")
    return value


def _url(value) -> str:
    if not isinstance(value, str):
        raise _error("url", "Enter a URL.")
    try:
        return clean_target(value)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from None


def _method(value) -> str:
    method = value.upper() if isinstance(value, str) else value
    if method not in METHODS:
        raise _error("method", f"Use one of {', '.join(METHODS)}.")
    return method


def _headers(value) -> dict:
    if not isinstance(value, dict):
        raise _error("headers", "An object of header names to text values.")
    if len(value) > MAX_HEADERS:
        raise _error("headers", f"At most {MAX_HEADERS} headers ({len(value)} given).")
    for name, text in value.items():
        if not isinstance(name, str) or not _TOKEN_RE.fullmatch(name):
            raise _error("headers", f"{name!r} is not a valid header name.")
        if name.lower() in _RESERVED_HEADERS:
            raise _error("headers", f"{name} is set by Uptime itself.")
        if not isinstance(text, str):
            raise _error("headers", f"The value of {name} must be text.")
        if any(ch in text for ch in "\r\n\0"):
            raise _error("headers", f"The value of {name} contains a line break.")
        if len(text) > MAX_HEADER_VALUE:
            raise _error("headers", f"The value of {name} is over {MAX_HEADER_VALUE} characters.")
    return dict(value)


def _body(value, method: str) -> str:
    body = _text(value, "body", limit=MAX_BODY)
    if len(body.encode()) > MAX_BODY:
        raise _error("body", f"At most {MAX_BODY // 1024} KiB.")
    if body and method not in BODY_METHODS:
        raise _error("body", f"A {method} request has no body; use POST, PUT, PATCH or DELETE.")
    return body


def _keyword(raw: dict, method: str) -> dict:
    keyword = _text(raw["keyword"], "keyword", limit=MAX_KEYWORD)
    absent = _boolean(raw["keywordAbsent"], "keywordAbsent")
    if absent and not keyword:
        raise _error("keyword", "Required with keywordAbsent.")
    if keyword and method == "HEAD":
        raise _error("keyword", "A HEAD answer has no body to search.")
    return {"keyword": keyword, "keywordAbsent": absent}


def _json_assertion(raw: dict, method: str) -> dict:
    path = _text(raw["jsonPath"], "jsonPath", limit=MAX_JSON_TEXT).strip()
    expected = raw["jsonExpected"]
    if not path:
        if expected not in (None, ""):
            raise _error("jsonPath", "Required with jsonExpected.")
        return {"jsonPath": "", "jsonExpected": None}
    try:
        parse_json_path(path)
    except ValueError as exc:
        raise _error("jsonPath", str(exc)) from None
    if method == "HEAD":
        raise _error("jsonPath", "A HEAD answer has no body to read.")
    if expected is None:
        raise _error("jsonExpected", "Required with jsonPath.")
    return {"jsonPath": path, "jsonExpected": _text(expected, "jsonExpected", limit=MAX_JSON_TEXT)}


def _auth(raw: dict) -> dict:
    """The credentials of the chosen type; those of another type are dropped
    rather than kept unused (a stored secret nobody can see is a liability)."""
    auth_type = raw["authType"]
    empty = {"authType": "", "authUsername": "", "authPassword": "", "bearerToken": ""}
    if auth_type == "":
        return empty
    if auth_type == "basic":
        user = _text(raw["authUsername"], "authUsername", limit=MAX_SECRET)
        password = _text(raw["authPassword"], "authPassword", limit=MAX_SECRET)
        if not user:
            raise _error("authUsername", "Required with authType basic.")
        if ":" in user:
            raise _error("authUsername", 'A user name for basic auth cannot contain ":".')
        if not password:
            raise _error("authPassword", "Required with authType basic.")
        return {**empty, "authType": "basic", "authUsername": user, "authPassword": password}
    if auth_type == "bearer":
        token = _text(raw["bearerToken"], "bearerToken", limit=MAX_SECRET)
        if not token:
            raise _error("bearerToken", "Required with authType bearer.")
        if any(ch.isspace() for ch in token):
            raise _error("bearerToken", "A bearer token has no spaces or line breaks.")
        return {**empty, "authType": "bearer", "bearerToken": token}
    raise _error("authType", 'Use "", "basic" or "bearer".')


def _max_response_ms(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error("maxResponseMs", f"A whole number of milliseconds, 1 to {MAX_RESPONSE_MS}.")
    if not 1 <= value <= MAX_RESPONSE_MS:
        raise _error("maxResponseMs", f"{value} is out of range: use 1 to {MAX_RESPONSE_MS}.")
    return value


def clean_ca_bundle(value) -> str:
    """PEM certificates trusted besides the default roots (http and tls monitors)."""
    pem = _text(value, "caBundle", limit=MAX_CA_BUNDLE).strip()
    if not pem:
        return ""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise _error("caBundle", "Not PEM certificates (-----BEGIN CERTIFICATE-----).") from None
    if not certificates:
        raise _error("caBundle", "No certificate found.")
    return pem + "\n"


# --- expected status ----------------------------------------------------------


def _status_ranges_or_error(value) -> tuple[tuple[int, int], ...]:
    text = _text(value, "expectedStatus", limit=MAX_STATUS_TEXT)
    try:
        return status_ranges(text)
    except ValueError as exc:
        raise _error("expectedStatus", str(exc)) from None


@functools.lru_cache(maxsize=256)
def status_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """ "200-299,301" → ((200, 299), (301, 301)); ValueError says what is wrong."""
    ranges = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        try:
            low_code, high_code = int(low), int(high or low)
        except ValueError:
            raise ValueError(
                f"{part.strip()!r} is not a status code or range (like 200-299,301)."
            ) from None
        for code in (low_code, high_code):
            if not 100 <= code <= 599:
                raise ValueError(f"{code} is not an HTTP status code (100 to 599).")
        if low_code > high_code:
            raise ValueError(f"{low_code}-{high_code}: the range runs from low to high.")
        ranges.append((low_code, high_code))
    return tuple(ranges)


def format_status(ranges) -> str:
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


# --- JSON path ---------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def parse_json_path(path: str) -> tuple[str | int, ...]:
    """ "$.items[0]["state"]" → ("items", 0, "state"); ValueError if malformed."""
    if not path.startswith("$"):
        raise ValueError('A JSON path starts with "$" (like $.status or $.items[0].state).')
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _JSON_STEP_RE.match(path, position)
        if match is None:
            raise ValueError(
                f"Unexpected {path[position : position + 10]!r} at character {position + 1}: "
                'use .name, ["name"] or [index].'
            )
        name, quoted, index = match.groups()
        if name is not None:
            steps.append(name)
        elif quoted is not None:
            steps.append(json.loads(f'"{quoted}"'))
        else:
            steps.append(int(index))
        position = match.end()
    return tuple(steps)


# --- judging an answer (called by monitor.probe) ---------------------------------


def needs_body(options: dict) -> bool:
    return bool(options.get("keyword") or options.get("jsonPath"))


def status_failure(options: dict, status: int) -> str | None:
    """Why `status` is not an expected answer, or None."""
    expected = options.get("expectedStatus") or DEFAULT_STATUS
    if any(low <= status <= high for low, high in status_ranges(expected)):
        return None
    if expected == DEFAULT_STATUS:
        return ""  # the engine's usual "HTTP 503 Service Unavailable"
    return f", expected {expected}"


def body_failure(options: dict, body: bytes, content_type: str | None) -> str | None:
    """Why the body fails the keyword or JSON assertion, or None."""
    text = decode(body, content_type)
    keyword = options.get("keyword")
    if keyword:
        found = keyword in text
        if options.get("keywordAbsent") and found:
            return f"Found {keyword!r}, which must not appear"
        if not options.get("keywordAbsent") and not found:
            return f"{keyword!r} not found in the first {len(body) // 1024 or 1} KiB of the body"
    path = options.get("jsonPath")
    if path:
        return _json_failure(path, options.get("jsonExpected") or "", text)
    return None


def decode(body: bytes, content_type: str | None) -> str:
    """The body as text in its declared charset, else UTF-8 (bad bytes replaced)."""
    charset = "utf-8"
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip("\"' ")
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return body.decode(charset, errors="replace")


def _json_failure(path: str, expected: str, text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return "The body is not JSON (or is longer than 64 KiB)"
    for step in parse_json_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return f"{path} is missing"
        elif not isinstance(value, dict) or step not in value:
            return f"{path} is missing"
        value = value[step]
    rendered = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if rendered == expected:
        return None
    shown = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return f"{path} is {shown[:100]}, expected {json.dumps(expected, ensure_ascii=False)}"
