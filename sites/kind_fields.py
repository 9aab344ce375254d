"""The per-kind option fields of the dashboard's monitor forms, and their text forms.

One table (FIELDS) says, for each option of each kind (monitor.kinds, API
names), which form field edits it and how the field's value becomes the
option's value and back. The forms, the site page and the commands read it;
the rules themselves stay in the kind's clean(), whose errors, keyed by the
API name, come back onto the field named here.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from monitor import kinds
from sites.targets import MAX_URL_LENGTH

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR")
AUTH_TYPES = (("", "None"), ("basic", "Basic (user name and password)"), ("bearer", "Bearer token"))
KEEP_STORED_HELP = "Leave empty to keep the one stored; it is never shown again."


def header_lines(text: str) -> dict[str, str]:
    """ "Name: value" per line → {"Name": "value"}; blank lines are skipped.

    A ValidationError names the line, so the form or command can say which.
    """
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ValidationError(f'Line {number}: write a header as "Name: value".')
        if name.strip().lower() in {n.lower() for n in headers}:
            raise ValidationError(f"Line {number}: the header {name.strip()} is given twice.")
        headers[name.strip()] = value.strip()
    return headers


def _headers_text(headers: dict | None) -> str:
    return "\n".join(f"{name}: {value}" for name, value in (headers or {}).items())


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _lines_text(values: list | None) -> str:
    return "\n".join(str(value) for value in values or ())


def _or_none(value):
    return None if value in ("", None) else value


def _same(value):
    return value


@dataclass(frozen=True)
class OptionField:
    """A form field that edits one option of some kinds."""

    name: str  # the form field's name
    option: str  # the option's API name
    kinds: tuple[str, ...]
    make: Callable[[], forms.Field]
    to_option: Callable[[Any], Any] = _same  # cleaned form value → option value
    to_form: Callable[[Any], Any] = _same  # stored option value → form initial
    secret: bool = False
    advanced: bool = False  # shown under "More options" until it has an error
    empty: Any = field(default=None)  # the option value of an untouched field


def _text(label: str, *, help_text: str = "", placeholder: str = "", **kw) -> Callable:
    attrs = {"placeholder": placeholder} if placeholder else {}
    return lambda: forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "off", **attrs}),
        **kw,
    )


def _area(label: str, *, help_text: str = "", placeholder: str = "", rows: int = 3) -> Callable:
    return lambda: forms.CharField(
        label=label,
        required=False,
        strip=False,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "placeholder": placeholder}),
    )


def _number(label: str, *, help_text: str = "", low: int = 1, high: int | None = None) -> Callable:
    attrs = {"min": low, **({"max": high} if high else {})}
    return lambda: forms.IntegerField(
        label=label, required=False, help_text=help_text, widget=forms.NumberInput(attrs=attrs)
    )


def _check(label: str, *, help_text: str = "") -> Callable:
    return lambda: forms.BooleanField(label=label, required=False, help_text=help_text)


def _choice(label: str, choices, *, initial: str = "") -> Callable:
    return lambda: forms.ChoiceField(label=label, required=False, choices=choices, initial=initial)


def _secret(label: str) -> Callable:
    return lambda: forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


HTTP = ("http",)
FIELDS: tuple[OptionField, ...] = (
    # http
    OptionField(
        "url",
        "url",
        HTTP,
        _text("URL", placeholder="https://example.com", max_length=MAX_URL_LENGTH),
        empty="",
    ),
    OptionField(
        "method",
        "method",
        HTTP,
        _choice("Method", [(m, m) for m in HTTP_METHODS], initial="GET"),
        to_option=_or_none,
        advanced=True,
        empty="GET",
    ),
    OptionField(
        "expected_status",
        "expectedStatus",
        HTTP,
        _text("Expected status", placeholder="200-399", help_text="Codes and ranges: 200-299,301"),
        to_option=lambda v: v.strip() or "200-399",
        advanced=True,
        empty="200-399",
    ),
    OptionField(
        "no_redirects",
        "followRedirects",
        HTTP,
        _check("Do not follow redirects"),
        to_option=lambda v: not v,
        to_form=lambda v: v is False,
        advanced=True,
        empty=True,
    ),
    OptionField(
        "keyword",
        "keyword",
        HTTP,
        _text("Keyword", help_text="Must appear in the page (first 64 KiB)."),
        empty="",
    ),
    OptionField(
        "keyword_absent",
        "keywordAbsent",
        HTTP,
        _check("The keyword must NOT appear"),
        empty=False,
    ),
    OptionField(
        "json_path",
        "jsonPath",
        HTTP,
        _text("JSON path", placeholder="$.status"),
        advanced=True,
        empty="",
    ),
    OptionField(
        "json_expected",
        "jsonExpected",
        HTTP,
        _text("JSON value expected", placeholder="ok", help_text="Compared as text."),
        to_option=_or_none,
        advanced=True,
    ),
    OptionField(
        "max_response_ms",
        "maxResponseMs",
        HTTP,
        _number("Max response (ms)", help_text="Slower is degraded.", high=60_000),
        advanced=True,
    ),
    OptionField(
        "headers",
        "headers",
        HTTP,
        _area("Request headers", help_text='One "Name: value" per line.'),
        to_option=header_lines,
        to_form=_headers_text,
        advanced=True,
        empty={},
    ),
    OptionField(
        "body",
        "body",
        HTTP,
        _area("Request body", help_text="For POST, PUT, PATCH and DELETE."),
        advanced=True,
        empty="",
    ),
    OptionField(
        "auth_type",
        "authType",
        HTTP,
        _choice("Authentication", AUTH_TYPES),
        to_option=_or_none,
        advanced=True,
        empty="",
    ),
    OptionField("auth_username", "authUsername", HTTP, _text("User name"), advanced=True, empty=""),
    OptionField(
        "auth_password",
        "authPassword",
        HTTP,
        _secret("Password"),
        secret=True,
        advanced=True,
        empty="",
    ),
    OptionField(
        "bearer_token",
        "bearerToken",
        HTTP,
        _secret("Bearer token"),
        secret=True,
        advanced=True,
        empty="",
    ),
    OptionField(
        "ignore_tls",
        "ignoreTls",
        HTTP,
        _check("Ignore TLS errors", help_text="Accept any certificate (not recommended)."),
        advanced=True,
        empty=False,
    ),
    OptionField(
        "ca_bundle",
        "caBundle",
        HTTP,
        _area(
            "CA bundle",
            help_text="PEM certificates of a private CA to trust.",
            placeholder="-----BEGIN CERTIFICATE-----",
        ),
        to_option=lambda v: v.strip(),
        advanced=True,
        empty="",
    ),
    # tcp, tls, dns
    OptionField(
        "host",
        "host",
        ("tcp", "tls", "dns"),
        _text("Host", placeholder="db.example.com"),
        empty="",
    ),
    OptionField("port", "port", ("tcp", "tls"), _number("Port", high=65535)),
    OptionField(
        "cert_expiry_days",
        "certExpiryDays",
        ("tls",),
        _number("Warn days before expiry", help_text="Default 14.", high=365),
    ),
    OptionField(
        "tls_ca_bundle",
        "caBundle",
        ("tls",),
        _area(
            "CA bundle",
            help_text="PEM certificates of a private CA to trust.",
            placeholder="-----BEGIN CERTIFICATE-----",
        ),
        to_option=lambda v: v.strip(),
        empty="",
    ),
    OptionField(
        "record_type",
        "recordType",
        ("dns",),
        _choice("Record type", [(t, t) for t in RECORD_TYPES], initial="A"),
        to_option=_or_none,
        empty="A",
    ),
    OptionField(
        "expected",
        "expected",
        ("dns",),
        _area("Expected values", help_text="One per line; empty: any answer is up."),
        to_option=_lines,
        to_form=_lines_text,
        empty=[],
    ),
    OptionField(
        "resolver",
        "resolver",
        ("dns",),
        _text("Resolver", placeholder="9.9.9.9:53", help_text="Empty: the system's resolver."),
        empty="",
    ),
    # heartbeat
    OptionField(
        "period",
        "period",
        ("heartbeat",),
        _number("Period (s)", help_text="How often the job pings."),
    ),
    OptionField(
        "cron",
        "cron",
        ("heartbeat",),
        _text("Or a cron schedule", placeholder="0 3 * * *"),
        empty="",
    ),
    OptionField(
        "timezone",
        "timezone",
        ("heartbeat",),
        _text("Time zone", placeholder="UTC", help_text="For the cron schedule."),
        to_option=_or_none,
    ),
    OptionField(
        "grace", "grace", ("heartbeat",), _number("Grace (s)", help_text="Lateness allowed.")
    ),
)
BY_NAME = {spec.name: spec for spec in FIELDS}


def fields_of(kind: str) -> list[OptionField]:
    return [spec for spec in FIELDS if kind in spec.kinds]


def options_from(kind: str, values: dict, *, keep_secrets: bool = False, skip=frozenset()) -> dict:
    """The kind's options in API names, from a form's cleaned values.

    An option the kind knows gets the kind's default when its field is left
    empty; a field of an option the kind does not know (not built yet) is
    sent only when filled in, so the kind refuses it by name. With
    keep_secrets, an empty secret field is left out: the stored one stays.
    """
    accepted = kinds.get(kind).OPTIONS
    options = {}
    for spec in fields_of(kind):
        if spec.name in skip or spec.name not in values:
            continue
        value = spec.to_option(values[spec.name])
        if spec.secret and keep_secrets and not value:
            continue
        if spec.option in accepted:
            options[spec.option] = accepted[spec.option] if value is None else value
        elif value is not None and value != spec.empty:
            options[spec.option] = value
    return options


def form_initial(site) -> dict:
    """A stored monitor's options as the form fields' initial values (secrets never)."""
    return {
        spec.name: spec.to_form(site.options[spec.option])
        for spec in fields_of(site.kind)
        if spec.option in site.options and not spec.secret
    }


def field_for_option(kind: str, option: str) -> str | None:
    """The form field that edits this option of this kind (for errors keyed by API name)."""
    return next((spec.name for spec in fields_of(kind) if spec.option == option), None)


def option_rows(site, mask: str) -> list[tuple[str, str]]:
    """(label, value as text) of a monitor's options for its page; secrets only as `mask`.

    Options left at their empty value are not listed; nor is the URL, which
    the page shows as the target.
    """
    labels = {spec.option: spec for spec in fields_of(site.kind)}
    rows = []
    for option, value in site.options.items():
        spec = labels.get(option)
        if option == "url" or value in (None, "", [], {}) or (spec and value == spec.empty):
            continue
        label = spec.make().label if spec else option
        if spec and spec.to_form is not _same:
            value = spec.to_form(value)
        rows.append((label, _display(value)))
    rows += [(labels[name].make().label if name in labels else name, mask) for name in site.secrets]
    return rows


def _display(value) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)
