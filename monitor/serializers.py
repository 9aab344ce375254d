"""API shapes for probing and status: camelCase, as the seed's TypeScript clients read them."""

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
    sites = SiteStatusOutputSerializer(many=True)
