"""Channel kinds: one module per kind, looked up by name (like healthchecks' TRANSPORTS).

Each module defines:
- LABEL: str, the kind's name as people know it ("Microsoft Teams");
- FIELDS: dict[str, base.Field], its settings in the API's names (camelCase);
- clean(config: dict) -> dict: validate and normalise the settings (secrets
  included), raising django.core.exceptions.ValidationError({field: [reason]});
- send(config: dict, message: messages.Message, *, timeout: float) -> base.Sent,
  raising base.TransportError (permanent or not) when it was not delivered;
- destination(config: dict) -> str: what pacing counts messages against
  (a webhook URL, a bot and chat); hashed before it is stored;
- PACE: float, seconds between two messages to one destination (0: no pacing).
"""

import functools
from importlib import import_module
from types import ModuleType

# Each kind with its label, in the order pages list them.
KINDS = {
    "slack": "Slack",
    "discord": "Discord",
    "teams": "Microsoft Teams",
    "googlechat": "Google Chat",
    "mattermost": "Mattermost",
    "telegram": "Telegram",
    "pagerduty": "PagerDuty",
    "opsgenie": "Opsgenie",
    "ntfy": "ntfy",
    "gotify": "Gotify",
    "pushover": "Pushover",
    "email": "Email",
    "webhook": "Webhook",
}


@functools.cache  # import_module costs more than it seems, and senders ask per message
def get(kind: str) -> ModuleType:
    """The module of a channel kind; KeyError for an unknown one."""
    if kind not in KINDS:
        raise KeyError(kind)
    return import_module(f"notifications.transports.{kind}")


def secret_fields(kind: str) -> set[str]:
    return {name for name, spec in get(kind).FIELDS.items() if spec.secret}
