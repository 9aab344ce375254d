"""The channel form of the pages: its common fields, then the kind's settings from FIELDS.

A kind's setting `url` is the form field `config_url`. A secret is never put
back into the page: its input stays empty with "********" as placeholder, and
left empty it keeps the stored value (sent to the service as the mask).
"""

import re

from django import forms
from django.core.exceptions import ValidationError

from notifications import transports
from notifications.models import Channel
from notifications.services import MAX_MINUTES
from sites.services import SECRET_MASK

PREFIX = "config_"
CLEAR = "clear_"
HEADER_LINE = re.compile(r"\s*([^:\s][^:]*?)\s*:\s*(.*?)\s*")


class ChannelForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    events = forms.MultipleChoiceField(
        label="Events",
        choices=Channel.Event.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    is_default = forms.BooleanField(
        label="Default channel",
        required=False,
        initial=True,
        help_text="Alerts of every monitor that has not chosen its own channels come here.",
    )
    remind_every_minutes = forms.IntegerField(
        label="Remind every (minutes)",
        required=False,
        min_value=1,
        max_value=MAX_MINUTES,
        help_text="While a monitor stays down and unacknowledged. Empty: no reminders.",
    )
    escalate_after_minutes = forms.IntegerField(
        label="Escalate after (minutes)",
        required=False,
        min_value=1,
        max_value=MAX_MINUTES,
        help_text="Makes this an escalation channel: told only when a down monitor is still "
        "unacknowledged this long. Empty: an ordinary channel.",
    )

    def __init__(self, *args, kind: str, channel: Channel | None = None, **kwargs) -> None:
        if channel is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = initial_of(channel)
        super().__init__(*args, **kwargs)
        self.kind, self.channel = kind, channel
        self.specs = transports.get(kind).FIELDS
        stored = channel.secrets if channel is not None else {}
        for name, spec in self.specs.items():
            self.fields[PREFIX + name] = _field(spec, stored=bool(stored.get(name)))
            if spec.secret and not spec.required and stored.get(name):
                self.fields[CLEAR + name] = forms.BooleanField(
                    label=f"Remove the stored {spec.label.lower()}", required=False
                )
        if channel is not None:
            self.fields["enabled"] = forms.BooleanField(
                label="On", required=False, help_text="Turning it on forgets its last error."
            )

    @property
    def config_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith((PREFIX, CLEAR))]

    @property
    def common_fields(self) -> list:
        names = ["name", "is_default", "remind_every_minutes", "escalate_after_minutes"]
        return [self[name] for name in names]

    def values(self) -> dict:
        """notifications.services' keywords."""
        data = self.cleaned_data
        values = {
            name: data[name] for name in ("name", "events", "is_default", "remind_every_minutes")
        }
        values["escalate_after_minutes"] = data["escalate_after_minutes"]
        if "enabled" in self.fields and self.channel is not None:
            if data["enabled"] != self.channel.enabled:
                values["enabled"] = data["enabled"]
        config = {}
        for name, spec in self.specs.items():
            value = _setting(spec, data.get(PREFIX + name))
            if spec.secret and not value:
                if data.get(CLEAR + name):
                    value = ""
                elif self.channel is not None and self.channel.secrets.get(name):
                    value = SECRET_MASK  # left empty: keep the stored one
                else:
                    continue
            config[name] = value
        values["config"] = config
        return values

    def clean(self) -> dict:
        data = super().clean()
        for name, spec in self.specs.items():
            text = data.get(PREFIX + name)
            if spec.type == "headers" and text:
                bad = [
                    line
                    for line in text.splitlines()
                    if line.strip() and not HEADER_LINE.fullmatch(line)
                ]
                if bad:
                    self.add_error(
                        PREFIX + name, f"Write one header a line as Name: value ({bad[0][:40]!r})."
                    )
        return data

    def show(self, exc: ValidationError) -> None:
        """A service's errors beside their inputs ("config.url" beside config_url)."""
        for field, errors in exc.message_dict.items():
            name = PREFIX + field.removeprefix("config.") if field.startswith("config.") else field
            self.add_error(name if name in self.fields else None, errors)


def initial_of(channel: Channel) -> dict:
    """A stored channel as the form's initial values (secrets never)."""
    initial = {
        "name": channel.name,
        "events": list(channel.events),
        "is_default": channel.is_default,
        "remind_every_minutes": channel.remind_every_minutes,
        "escalate_after_minutes": channel.escalate_after_minutes,
        "enabled": channel.enabled,
    }
    for name, spec in transports.get(channel.kind).FIELDS.items():
        if spec.secret or name not in channel.config:
            continue
        value = channel.config[name]
        if spec.type == "emails" and isinstance(value, list):
            value = "\n".join(value)
        elif spec.type == "headers" and isinstance(value, dict):
            value = "\n".join(f"{key}: {text}" for key, text in value.items())
        initial[PREFIX + name] = value
    return initial


def _field(spec, *, stored: bool) -> forms.Field:
    common = {"label": spec.label, "help_text": spec.help, "required": False}
    if spec.secret:
        attrs = {"autocomplete": "new-password"}
        if stored:
            attrs["placeholder"] = SECRET_MASK
            common["help_text"] = (spec.help + " " if spec.help else "") + "Empty: keep it."
        if spec.type in ("emails", "headers"):  # several lines; the stored ones never shown
            return forms.CharField(widget=forms.Textarea({"rows": 3, **attrs}), **common)
        return forms.CharField(
            widget=forms.PasswordInput(render_value=False, attrs=attrs), **common
        )
    if spec.type == "bool":
        return forms.BooleanField(initial=bool(spec.default), **common)
    if spec.type == "int":
        return forms.IntegerField(initial=spec.default, **common)
    if spec.type == "choice":
        choices = [("", "—")] if not spec.required else []
        choices += [(choice, choice) for choice in spec.choices]
        return forms.ChoiceField(choices=choices, initial=spec.default, **common)
    if spec.type in ("emails", "headers"):
        return forms.CharField(widget=forms.Textarea({"rows": 3}), initial=spec.default, **common)
    widget = forms.URLInput() if spec.type == "url" else forms.TextInput()
    return forms.CharField(widget=widget, initial=spec.default, **common)


def _setting(spec, value):
    """A form value as the API would send it."""
    if spec.type == "emails" and isinstance(value, str):
        return [part for part in re.split(r"[\s,;]+", value) if part]
    if spec.type == "headers" and isinstance(value, str):
        headers = {}
        for line in value.splitlines():
            match = HEADER_LINE.fullmatch(line)
            if match:
                headers[match[1]] = match[2]
        return headers
    if spec.type == "int" and value is None:
        return None
    return value
