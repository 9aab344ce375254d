"""What a monitorable URL is: normalisation and validation, in one place.

The API, the dashboard form, the commands and the ping endpoint all call
`normalize_url`, so `example.com`, `HTTPS://Example.com` and
`https://example.com:443/` name one site.
"""

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError

from monitor.net import AddressNotAllowed, ResolutionError, check_address, resolve

MAX_URL_LENGTH = 2000
MAX_LABEL_LENGTH = 63
MAX_HOST_LENGTH = 253
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
# "host:port" with nothing after the port but a path, query or fragment.
_PORT_RE = re.compile(r"^[0-9]*(?:[/?#]|$)")
_HOST_LABEL_RE = re.compile(rf"[a-zA-Z0-9_-]{{1,{MAX_LABEL_LENGTH}}}")


def normalize_url(raw: str) -> str:
    """Return the canonical form of a site URL, or raise ValidationError."""
    url = (raw or "").strip()
    if not url:
        raise ValidationError("Enter a URL.", code="required")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(
            f"The URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}.",
            code="too_long",
        )
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValidationError("The URL contains spaces or control characters.", code="invalid")
    match = _SCHEME_RE.match(url)
    # A bare host ("example.com", "example.com:8080/x") defaults to https, as
    # in the seed. "host:port" looks like a scheme, so a scheme is "x://", a
    # known one, or a dot-free name not followed by a port ("javascript:alert(1)").
    if match and _names_a_scheme(match.group(1), url[match.end() :]):
        scheme = match.group(1).lower()
        if scheme not in SCHEMES:
            raise ValidationError(
                f"Unsupported scheme {scheme!r}: only http and https can be monitored.",
                code="scheme",
            )
        # Tolerate "https:/example.com", which some proxies make of "https://".
        rest = url[match.end() :]
        url = f"{scheme}://{rest.lstrip('/')}"
    else:
        url = f"https://{url}"

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"The URL is malformed: {exc}.", code="invalid") from None
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "Credentials in the URL are not supported (they would be shown and logged).",
            code="credentials",
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValidationError("The URL has no host.", code="no_host")
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise ValidationError(f"{host!r} is not a valid host name.", code="invalid") from None
    if ":" in ascii_host:
        ascii_host = f"[{ascii_host}]"
    elif not _is_valid_host_name(ascii_host):
        # Such a name can never resolve, and socket.getaddrinfo() cannot even
        # encode some of them (an empty or over-long label raises UnicodeError).
        raise ValidationError(
            f"{host!r} is not a valid host name: labels are letters, digits, "
            f'"-" or "_", {MAX_LABEL_LENGTH} at most, and the name is '
            f"{MAX_HOST_LENGTH} characters at most.",
            code="invalid",
        )
    if port == 0:
        raise ValidationError("Port 0 cannot be connected to.", code="invalid")
    netloc = ascii_host.lower()
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        netloc = f"{netloc}:{port}"
    normalized = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    if len(normalized) > MAX_URL_LENGTH:
        raise ValidationError(
            f"The URL is longer than {MAX_URL_LENGTH} characters.", code="too_long"
        )
    return normalized


def _names_a_scheme(candidate: str, rest: str) -> bool:
    if rest.startswith("//") or candidate.lower() in SCHEMES:
        return True
    return "." not in candidate and not _PORT_RE.match(rest)


def _is_valid_host_name(ascii_host: str) -> bool:
    """True for a name DNS can carry (RFC 1035, section 2.3.4), "_" allowed as in SRV names."""
    return len(ascii_host) <= MAX_HOST_LENGTH and all(
        _HOST_LABEL_RE.fullmatch(label) for label in ascii_host.split(".")
    )


def clean_host(raw: str) -> str:
    """A host name (IDNA-encoded, lower case) or an IP address, or ValidationError.

    For the kinds that take a host and a port instead of a URL (tcp, tls, dns).
    """
    host = (raw or "").strip().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        ascii_host = ""
    if not ascii_host or not _is_valid_host_name(ascii_host):
        raise ValidationError(f"{raw!r} is not a valid host name or IP address.", code="invalid")
    return ascii_host.lower()


def validate_host_address(host: str, port: int) -> None:
    """The private-address guard for a host and port (see validate_target_address)."""
    try:
        infos = resolve(host, port)
    except ResolutionError:
        return
    for *_, sockaddr in infos:
        try:
            check_address(sockaddr[0], host=host)
        except AddressNotAllowed as exc:
            raise ValidationError(str(exc), code="private_address") from None


def clean_target(raw: str) -> str:
    """Normalise a URL and apply the private-address guard: what a site may
    be, a ping may reach. Raises ValidationError."""
    url = normalize_url(raw)
    validate_target_address(url)
    return url


def validate_target_address(url: str) -> None:
    """Refuse a URL whose host resolves to an address Uptime may not reach.

    A name that does not resolve now is accepted: the site will show as down
    with a DNS error, and the guard runs again at every connection.
    """
    parts = urlsplit(url)
    validate_host_address(parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme])
