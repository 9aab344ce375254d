"""API shapes for channels: what each operation accepts and the channel it answers with.

Input serializers check types only; the rules (the kind's settings, events,
minutes) live in notifications.services. A channel's settings are `config`
in the API, secrets included (masked as "********" once saved).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications import transports
from notifications.models import Channel
from notifications.services import MAX_MINUTES
from sites.serializers import StrictInputSerializer
from sites.services import SECRET_MASK

EVENTS_HELP = "Events it wants: " + ", ".join(Channel.Event.values) + "."


def minutes_field(source: str, help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        source=source,
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_MINUTES,
        help_text=help_text,
    )


class ChannelUpdateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    config = serializers.DictField(
        required=False,
        help_text="The kind's settings (GET /api/channel-kinds); only those named change. "
        f'A secret sent back as "{SECRET_MASK}" keeps its stored value.',
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.Event.choices),
        required=False,
        max_length=len(Channel.Event.values),
        help_text=EVENTS_HELP,
    )
    isDefault = serializers.BooleanField(
        required=False,
        source="is_default",
        help_text="Alerts of every monitor that has not chosen its own channels come here.",
    )
    remindEveryMinutes = minutes_field(
        "remind_every_minutes",
        "While a monitor stays down and unacknowledged, remind every so many minutes; null: never.",
    )
    escalateAfterMinutes = minutes_field(
        "escalate_after_minutes",
        "An escalation channel: told when a down monitor is still unacknowledged "
        "this many minutes later; null: not an escalation channel.",
    )
    enabled = serializers.BooleanField(
        required=False,
        help_text="true turns the channel back on and clears its disabled reason and last error.",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(
                f"Send at least one of {', '.join(self.fields)} to change."
            )
        return attrs


class ChannelCreateInputSerializer(ChannelUpdateInputSerializer):
    kind = serializers.ChoiceField(choices=list(transports.KINDS.items()))
    name = serializers.CharField(max_length=100)
    project = serializers.IntegerField(
        required=False, min_value=1, help_text="The project's id; your personal project if omitted."
    )
    config = serializers.DictField(
        required=False, help_text="The kind's settings (GET /api/channel-kinds)."
    )
    enabled = None  # a new channel is on


class ChannelOutputSerializer(serializers.Serializer):
    """A channel: its settings (secrets masked), what it wants, and its health."""

    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    kind = serializers.CharField()
    name = serializers.CharField()
    config = serializers.SerializerMethodField()
    events = serializers.ListField(child=serializers.CharField())
    isDefault = serializers.BooleanField(source="is_default")
    remindEveryMinutes = serializers.IntegerField(source="remind_every_minutes", allow_null=True)
    escalateAfterMinutes = serializers.IntegerField(
        source="escalate_after_minutes", allow_null=True
    )
    sites = serializers.SerializerMethodField()
    enabled = serializers.BooleanField()
    disabledReason = serializers.CharField(
        source="disabled_reason", help_text="Why delivery turned it off (a permanent error)."
    )
    lastSuccessAt = serializers.DateTimeField(source="last_success_at", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    lastErrorAt = serializers.DateTimeField(source="last_error_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")

    @extend_schema_field(serializers.DictField())
    def get_config(self, channel: Channel) -> dict:
        return masked_settings(channel)

    @extend_schema_field(
        serializers.ListField(
            child=serializers.IntegerField(),
            help_text="Monitors that chose this channel (instead of the project's defaults).",
        )
    )
    def get_sites(self, channel: Channel) -> list[int]:
        return sorted(site.pk for site in channel.sites.all())


def masked_settings(channel: Channel) -> dict:
    """The channel's settings as shown: each secret that is set as the mask."""
    shown = dict(channel.config)
    for name, spec in transports.get(channel.kind).FIELDS.items():
        if spec.secret:
            shown[name] = SECRET_MASK if channel.secrets.get(name) else ""
    return shown


class ChannelListOutputSerializer(serializers.Serializer):
    channels = ChannelOutputSerializer(many=True)


class ChannelTestOutputSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="The destination accepted the test message.")
    statusCode = serializers.IntegerField(
        source="status_code", allow_null=True, help_text="The destination's HTTP status."
    )
    answer = serializers.CharField(help_text="What it answered, shortened, secrets removed.")
    error = serializers.CharField(help_text="Why it was not delivered, when it was not.")


class ChannelFieldOutputSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Its key in config.")
    label = serializers.CharField()
    type = serializers.CharField(help_text="url, text, int, bool, choice, emails or headers.")
    required = serializers.BooleanField()
    secret = serializers.BooleanField(help_text="Stored apart and shown masked once saved.")
    help = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField())
    default = serializers.JSONField(allow_null=True)


class ChannelKindOutputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    fields = ChannelFieldOutputSerializer(many=True)


class ChannelKindListOutputSerializer(serializers.Serializer):
    kinds = ChannelKindOutputSerializer(many=True)


def kind_data(kind: str) -> dict:
    module = transports.get(kind)
    return {
        "kind": kind,
        "label": module.LABEL,
        "fields": [
            {
                "name": name,
                "label": spec.label,
                "type": spec.type,
                "required": spec.required,
                "secret": spec.secret,
                "help": spec.help,
                "choices": list(spec.choices),
                "default": spec.default,
            }
            for name, spec in module.FIELDS.items()
        ],
    }
