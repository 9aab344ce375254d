"""API shapes for probing and status: camelCase, as the seed's TypeScript clients read them."""

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

from django.db.models import CharField
from django.db.models.functions import Cast
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitor.probe import ErrorKind, ProbeResult
from sites.models import Site
from sites.targets import clean_target


class ErrorOutputSerializer(serializers.Serializer):
    """Why a probe failed; `null` in its place means there was no error."""

    kind = serializers.ChoiceField(choices=ErrorKind.choices)
    message = serializers.CharField()


def error_or_none(kind: str, message: str) -> dict | None:
    """The {"kind", "message"} object, or None when the probe had no error."""
    if not kind:
        return None
    return {"kind": kind, "message": message}


class PingInputSerializer(serializers.Serializer):
    url = serializers.CharField(
        trim_whitespace=True,
        help_text='The URL to probe; a bare host such as "example.com" means https://.',
    )

    def validate_url(self, value: str) -> str:
        return clean_target(value)


class ProbeResultOutputSerializer(serializers.Serializer):
    """One probe's outcome, for ping (not stored) and check (stored)."""

    up = serializers.BooleanField()
    url = serializers.SerializerMethodField(help_text="The URL probed, normalised.")
    checkedAt = serializers.DateTimeField(source="checked_at")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    responseTimeMs = serializers.IntegerField(source="response_ms", allow_null=True)
    error = serializers.SerializerMethodField()

    @extend_schema_field(ErrorOutputSerializer(allow_null=True))
    def get_error(self, result: ProbeResult) -> dict | None:
        return error_or_none(result.error_kind, result.error_message)

    def get_url(self, result: ProbeResult) -> str:
        # ProbeResult carries no URL; the view passes the one it probed.
        return self.context["url"]


class CheckOutputSerializer(ProbeResultOutputSerializer):
    siteId = serializers.IntegerField(source="site_id")


class CheckAllOutputSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="How many enabled sites were queued.")


class SiteStatusOutputSerializer(serializers.Serializer):
    """A site's current state, read from its row (never from the checks table)."""

    id = serializers.IntegerField()
    url = serializers.CharField()
    name = serializers.CharField()
    up = serializers.BooleanField(allow_null=True, help_text="null while the site is unchecked.")
    status = serializers.ChoiceField(choices=Site.Status.choices)
    checkedAt = serializers.DateTimeField(source="last_checked_at", allow_null=True)
    responseTimeMs = serializers.IntegerField(source="last_response_ms", allow_null=True)
    statusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    error = serializers.SerializerMethodField()

    @extend_schema_field(ErrorOutputSerializer(allow_null=True))
    def get_error(self, site: Site) -> dict | None:
        return error_or_none(site.last_error_kind, site.last_error_message)


class StatusOutputSerializer(serializers.Serializer):
    """The status answer's shape, for the schema; site_statuses() builds it."""

    sites = SiteStatusOutputSerializer(many=True)


# What site_statuses() reads from each site row, in the order it unpacks them.
# last_checked_at comes as text and is parsed by datetime.fromisoformat: Django
# loads a PostgreSQL timestamptz through a pure-Python subclass of psycopg's
# loader, about 6 µs a value, most of the query's time at 10,000 sites
# (https://code.djangoproject.com/ticket/36960).
STATUS_COLUMNS = (
    "id",
    "url",
    "name",
    "status",
    Cast("last_checked_at", output_field=CharField()),
    "last_response_ms",
    "last_status_code",
    "last_error_kind",
    "last_error_message",
)
# Site.up for each status, worked out once by the model's own rule.
UP_BY_STATUS = {status: Site(status=status).up for status in Site.Status.values}


def site_statuses(rows: Iterable[tuple]) -> list[dict]:
    """What SiteStatusOutputSerializer(many=True) makes of STATUS_COLUMNS rows, made directly.

    A serializer per site costs tens of microseconds, which at 10,000 sites is
    most of the request; plain dicts from value tuples give the same JSON many
    times faster (tests compare the two).
    """
    # None: stay in UTC, as the values arrive; converting costs 6 ms per 10,000.
    tz = None if timezone.get_current_timezone_name() == "UTC" else timezone.get_current_timezone()
    return [
        {
            "id": id_,
            "url": url,
            "name": name,
            "up": UP_BY_STATUS.get(status),
            "status": status,
            "checkedAt": _iso_datetime(checked_at, tz),
            "responseTimeMs": response_ms,
            "statusCode": status_code,
            "error": error_or_none(error_kind, error_message),
        }
        for (
            id_,
            url,
            name,
            status,
            checked_at,
            response_ms,
            status_code,
            error_kind,
            error_message,
        ) in rows
    ]


def _iso_datetime(text: str | None, tz: tzinfo | None) -> str | None:
    """A UTC datetime read as text, as DRF's DateTimeField writes it in tz (None: UTC)."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        # SQLite keeps datetimes as UTC without an offset.
        value = value.replace(tzinfo=UTC)
    if tz is not None:
        value = value.astimezone(tz)
    elif value.tzinfo is not UTC:  # a database session in another zone
        value = value.astimezone(UTC)
    iso = value.isoformat()
    return iso[:-6] + "Z" if iso.endswith("+00:00") else iso
