"""Monitor kinds: what a monitor checks, one module per kind.

Each kind module exposes:

- OPTIONS: the option names it accepts (API field names, camelCase) and their
  defaults;
- SECRETS: the names among them that are write-only (never shown again);
- clean(options) -> options: normalised and validated, defaults filled in;
  raises ValidationError keyed by the option's API name;
- target(options) -> str: the string kept in Site.url, the monitor's target
  as people read it ("tcp://db.example.com:5432"), unique per project.

How a kind is probed lives with the engine (monitor.probe, monitor.dnsprobe)
or, for heartbeats, in monitor.heartbeat: validation is needed by every web
process, probing only by workers.
"""

from types import ModuleType

from django.core.exceptions import ValidationError

from monitor.kinds import dns, heartbeat, http, tcp, tls

KINDS: dict[str, ModuleType] = {
    "http": http,
    "tcp": tcp,
    "dns": dns,
    "tls": tls,
    "heartbeat": heartbeat,
}
CHOICES = [
    ("http", "HTTP(S)"),
    ("tcp", "TCP port"),
    ("dns", "DNS record"),
    ("tls", "TLS certificate"),
    ("heartbeat", "Heartbeat (push)"),
]
# Every option name of every kind, for the API's flat input.
ALL_OPTIONS = frozenset(name for module in KINDS.values() for name in module.OPTIONS)
ALL_SECRETS = frozenset(name for module in KINDS.values() for name in module.SECRETS)


def get(kind: str) -> ModuleType:
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise ValidationError(
            {"kind": [f"Unknown kind {kind!r}; the kinds are {', '.join(KINDS)}."]}
        ) from None


def split_secrets(kind: str, options: dict) -> tuple[dict, dict]:
    """(options without secrets, the secrets) for storing them apart."""
    secrets = get(kind).SECRETS
    return (
        {k: v for k, v in options.items() if k not in secrets},
        {k: v for k, v in options.items() if k in secrets and v},
    )
