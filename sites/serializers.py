"""API shapes for sites: the input each operation accepts and the site it answers with.

Input serializers check types only; the rules (URL normalisation, the
private-address guard, interval and timeout limits, uniqueness) live in
sites.services and the model, which answer with per-field ValidationErrors.
The interval and timeout limits are also read from the model's validators
so that the OpenAPI schema states them (model_limits).
"""

from collections.abc import Mapping

from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitor import kinds
from monitor.availability import PERIODS, uptime_many
from monitor.maintenance import in_maintenance
from monitor.serializers import ErrorOutputSerializer, error_or_none
from monitor.site_locations import site_locations
from sites.models import DISPLAY_STATES, Site
from sites.services import MAX_TAG_LENGTH, MAX_TAGS, SECRET_MASK


class StrictInputSerializer(serializers.Serializer):
    """Names each field it does not accept, instead of silently dropping it.

    A client that sends {"url": ...} to PATCH, or misspells "intervall", learns
    that nothing happened to that field rather than getting a quiet 200.
    """

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            accepted = ", ".join(self.fields)
            unknown = {
                str(name): [f"This field cannot be set here; the fields accepted are {accepted}."]
                for name in data
                if name not in self.fields
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**unknown, **exc.detail}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictInputSerializerSchema(OpenApiSerializerExtension):
    """Tells the OpenAPI schema what StrictInputSerializer enforces: no unlisted fields.

    Without additionalProperties: false the schema allows any extra key, which
    the API then refuses with a 400. (drf-spectacular registers an extension
    when its class is defined.)
    """

    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


def model_limits(field_name: str) -> dict:
    """min_value and max_value from the Site field's validators, so the schema states them.

    The model stays the rule's one home; this only lets the API say it up front.
    """
    field = Site._meta.get_field(field_name)
    lows = [v.limit_value for v in field.validators if isinstance(v, MinValueValidator)]
    highs = [v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)]
    limits = {}
    if lows:
        limits["min_value"] = max(lows)
    if highs:
        limits["max_value"] = min(highs)
    return limits


def interval_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, help_text="Seconds between checks.", **model_limits("interval")
    )


def timeout_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        help_text="Seconds a check may take; at most the interval.",
        **model_limits("timeout"),
    )


def threshold_field(what: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        source=f"{what}_threshold",
        help_text=f"{what.capitalize()}s in a row before the state changes.",
        **model_limits(f"{what}_threshold"),
    )


def kind_option_fields() -> dict[str, serializers.Field]:
    """One input field per option of every kind; the kind's clean() checks the values.

    Options that do not belong to the monitor's kind are refused by name.
    """
    fields = {}
    for kind, module in kinds.KINDS.items():
        for name in module.OPTIONS:
            if name == "url":
                continue  # a field of its own, the seed's
            fields.setdefault(
                name, serializers.JSONField(required=False, allow_null=True, help_text=kind)
            )
            if fields[name].help_text != kind and kind not in fields[name].help_text:
                fields[name].help_text += f", {kind}"
    for field in fields.values():
        field.help_text = f"Option of: {field.help_text}. See the README's monitor kinds."
    return fields


class _MonitorInput(StrictInputSerializer):
    """What creating and changing a monitor share: schedule, confirmation, pause, kind options."""

    name = serializers.CharField(required=False, allow_blank=True)
    interval = interval_field()
    timeout = timeout_field()
    enabled = serializers.BooleanField(required=False)
    paused = serializers.BooleanField(required=False, help_text="The opposite of enabled.")
    failureThreshold = threshold_field("failure")
    successThreshold = threshold_field("success")
    retryInterval = serializers.IntegerField(
        required=False,
        source="retry_interval",
        help_text="Seconds to the next check while a change is unconfirmed.",
        **model_limits("retry_interval"),
    )
    dependsOn = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        source="depends_on",
        help_text="The id of a monitor of the same project this one depends on.",
    )
    channels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=1000,
        help_text="Ids of the project's channels its alerts go to; empty: the project's "
        "default channels.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=MAX_TAG_LENGTH),
        required=False,
        max_length=MAX_TAGS,
        help_text="Tag names; new ones are created in the monitor's project. "
        "Replaces its tags; empty: none.",
    )
    locations = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=64,
        help_text="Names of the enabled locations that check it (GET /api/locations); "
        "empty: every enabled location.",
    )
    quorum = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="How many voting locations must see it down for it to be down; "
        "null: a majority of them.",
        **model_limits("quorum"),
    )
    notifyRegional = serializers.BooleanField(
        required=False,
        source="notify_regional",
        help_text="Alert also when only a minority of locations sees it down.",
    )

    def get_fields(self):
        return {**super().get_fields(), **kind_option_fields()}

    def validate(self, attrs: dict) -> dict:
        paused = attrs.pop("paused", None)
        if paused is not None:
            if "enabled" in attrs and attrs["enabled"] == paused:
                raise serializers.ValidationError(
                    {"paused": ["paused and enabled say opposite things; send one."]}
                )
            attrs["enabled"] = not paused
        option_names = [n for n in attrs if n in kinds.ALL_OPTIONS]
        options = {name: attrs.pop(name) for name in option_names}
        if options:
            attrs["options"] = options
        return attrs


class SiteCreateInputSerializer(_MonitorInput):
    # Omitted fields take site_create's defaults, so they are stated once.
    kind = serializers.CharField(
        required=False, help_text=f"One of {', '.join(kinds.KINDS)}; http if omitted."
    )
    url = serializers.CharField(
        required=False,
        help_text='http(s) URL (kind http); a bare host such as "example.com" means https://.',
    )
    project = serializers.IntegerField(
        required=False, min_value=1, help_text="The project's id; your personal project if omitted."
    )

    def validate(self, attrs: dict) -> dict:
        kind = attrs.get("kind", "http")
        if kind == "http" and not attrs.get("url"):
            raise serializers.ValidationError({"url": ["This field is required."]})
        if kind != "http" and "url" in attrs:
            raise serializers.ValidationError(
                {"url": [f"A {kind} monitor has no URL; see the fields of its kind."]}
            )
        return super().validate(attrs)


class SiteUpdateInputSerializer(_MonitorInput):
    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(
                f"Send at least one of {', '.join(self.fields)} to change."
            )
        return super().validate(attrs)


# {"24h": …, "7d": …, "30d": …, "365d": …}: names no class body could write.
UptimeOutputSerializer = type(
    "UptimeOutputSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "Percentages with four decimals, or null when nothing was monitored.",
        **{name: serializers.FloatField(allow_null=True) for name in PERIODS},
    },
)


class LocationStateOutputSerializer(serializers.Serializer):
    """The site as one location sees it."""

    location = serializers.CharField()
    label = serializers.CharField()
    status = serializers.ChoiceField(choices=Site.Status.choices)
    lastCheckedAt = serializers.DateTimeField(allow_null=True)
    responseMs = serializers.IntegerField(allow_null=True)
    statusCode = serializers.IntegerField(allow_null=True)
    error = ErrorOutputSerializer(allow_null=True)
    voting = serializers.BooleanField(help_text="Its view counts towards the quorum now.")
    stale = serializers.BooleanField(help_text="Its probe has stopped reporting.")


class RegionalProblemOutputSerializer(serializers.Serializer):
    """Some voting locations see the site down, fewer than its quorum."""

    locations = serializers.ListField(child=serializers.CharField())
    voting = serializers.IntegerField(help_text="How many locations voted.")


class SiteOutputSerializer(serializers.Serializer):
    """A monitor: its settings, its kind's options (secrets masked) and its state."""

    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    kind = serializers.CharField()
    url = serializers.CharField(
        help_text="The target (an http monitor's URL; empty for heartbeats)."
    )
    name = serializers.CharField()
    interval = serializers.IntegerField()
    timeout = serializers.IntegerField()
    enabled = serializers.BooleanField()
    paused = serializers.BooleanField()
    failureThreshold = serializers.IntegerField(source="failure_threshold")
    successThreshold = serializers.IntegerField(source="success_threshold")
    retryInterval = serializers.IntegerField(source="retry_interval")
    dependsOn = serializers.IntegerField(source="depends_on_id", allow_null=True)
    channels = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    certExpiresAt = serializers.DateTimeField(source="cert_expires_at", allow_null=True)
    pingUrl = serializers.SerializerMethodField()
    badgeKey = serializers.CharField(
        source="badge_key", help_text="The public key of its badges: /badge/<badgeKey>/status.svg."
    )
    uptime = serializers.SerializerMethodField(
        help_text="Time-weighted uptime in percent over 24 hours, 7, 30 and 365 days "
        "(maintenance and unmonitored time left out); null where nothing was monitored."
    )
    status = serializers.ChoiceField(choices=Site.Status.choices)
    state = serializers.SerializerMethodField(
        help_text="What to show: paused, maintenance, or else the status."
    )
    up = serializers.BooleanField(allow_null=True, help_text="null while the site is unchecked.")
    checkedAt = serializers.DateTimeField(source="last_checked_at", allow_null=True)
    nextCheckAt = serializers.DateTimeField(source="next_check_at", allow_null=True)
    statusChangedAt = serializers.DateTimeField(source="status_changed_at", allow_null=True)
    statusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    responseTimeMs = serializers.IntegerField(source="last_response_ms", allow_null=True)
    error = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    locations = serializers.SerializerMethodField()
    quorum = serializers.IntegerField(allow_null=True)
    notifyRegional = serializers.BooleanField(source="notify_regional")
    locationStates = serializers.SerializerMethodField(
        help_text="The site as each of its locations sees it."
    )
    regionalProblem = serializers.SerializerMethodField(
        help_text="Set while some voting locations, too few for the quorum, see it down."
    )

    @extend_schema_field(ErrorOutputSerializer(allow_null=True))
    def get_error(self, site: Site) -> dict | None:
        return error_or_none(site.last_error_kind, site.last_error_message)

    @extend_schema_field(serializers.ChoiceField(choices=[*Site.Status.choices, *DISPLAY_STATES]))
    def get_state(self, site: Site) -> str:
        maintenance = self.context.get("in_maintenance")
        if maintenance is None:  # one site: ask now
            maintenance = in_maintenance([site.pk], timezone.now())
        return site.display_status(in_maintenance=site.pk in maintenance)

    @extend_schema_field(
        serializers.ListField(
            child=serializers.IntegerField(),
            help_text="The channels it chose; empty: the project's default channels.",
        )
    )
    def get_channels(self, site: Site) -> list[int]:
        return sorted(channel.pk for channel in site.channels.all())

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, site: Site) -> list[str]:
        return sorted(tag.name for tag in site.tags.all())

    @extend_schema_field(
        serializers.ListField(
            child=serializers.CharField(),
            help_text="The locations it chose; empty: every enabled location.",
        )
    )
    def get_locations(self, site: Site) -> list[str]:
        return sorted(location.name for location in site.locations.all())

    def _site_locations(self, site: Site):
        many = self.context.get("locations")
        if many is not None:
            return many[site.pk]
        # One site, asked for twice (states and problem): work it out once.
        cached = getattr(site, "_site_locations", None)
        if cached is None:
            cached = site._site_locations = site_locations(site)
        return cached

    @extend_schema_field(LocationStateOutputSerializer(many=True))
    def get_locationStates(self, site: Site) -> list[dict]:
        states = [state.as_api() for state in self._site_locations(site).states]
        return LocationStateOutputSerializer(states, many=True).data

    @extend_schema_field(RegionalProblemOutputSerializer(allow_null=True))
    def get_regionalProblem(self, site: Site) -> dict | None:
        return self._site_locations(site).regional_problem

    @extend_schema_field(UptimeOutputSerializer())
    def get_uptime(self, site: Site) -> dict:
        figures = self.context.get("uptime")
        if figures is None:  # one site: work it out now
            figures = uptime_many([site])
        return figures.get(site.pk) or dict.fromkeys(PERIODS)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_pingUrl(self, site: Site) -> str | None:
        return site.ping_url if site.kind == "heartbeat" else None

    def to_representation(self, site: Site) -> dict:
        data = super().to_representation(site)
        module = kinds.get(site.kind)
        for name in module.OPTIONS:
            if name == "url":
                continue
            if name in module.SECRETS:
                data[name] = SECRET_MASK if site.secrets.get(name) else ""
            else:
                data[name] = site.options.get(name, module.OPTIONS[name])
        return data


class SiteListOutputSerializer(serializers.Serializer):
    sites = SiteOutputSerializer(many=True)
