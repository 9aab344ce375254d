"""API shapes for status pages and their incidents, in the API's camelCase.

Input serializers check types only (and refuse unknown fields); the rules
(slug format and uniqueness, the custom domain, monitors of the page's own
project, logo types) live in statuspages.services.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sites.serializers import StrictInputSerializer
from statuspages.models import StatusIncident, StatusIncidentUpdate, StatusPage
from statuspages.selectors import domain_url, logo_url, public_url
from statuspages.services import MAX_GROUPS, MAX_MONITORS, Group, MonitorEntry


def _id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=2**63 - 1, **kwargs)


def _site_ids(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=_id_field(), required=False, max_length=MAX_MONITORS, help_text=help_text
    )


class MonitorInputSerializer(StrictInputSerializer):
    site = _id_field(help_text="The id of a monitor of the page's project.")
    displayName = serializers.CharField(
        required=False,
        allow_blank=True,
        source="display_name",
        help_text="The name the page shows; empty: the monitor's own name.",
    )


class GroupInputSerializer(StrictInputSerializer):
    name = serializers.CharField(required=False, allow_blank=True, help_text="Empty: no heading.")
    monitors = MonitorInputSerializer(many=True, max_length=MAX_MONITORS)


class _PageInput(StrictInputSerializer):
    slug = serializers.CharField(
        help_text="The page's address: /status/<slug>. Lowercase letters, digits and hyphens."
    )
    title = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    customDomain = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        source="custom_domain",
        help_text="A host name that serves this page at / (status.example.com); null: none.",
    )
    showUrls = serializers.BooleanField(required=False, source="show_urls")
    showErrors = serializers.BooleanField(required=False, source="show_errors")
    showResponseTimes = serializers.BooleanField(required=False, source="show_response_times")
    sites = _site_ids("Ids of the project's monitors, shown in this order in one unnamed group.")
    groups = GroupInputSerializer(
        many=True,
        required=False,
        max_length=MAX_GROUPS,
        help_text="The monitors in named groups, in order (instead of sites).",
    )

    def validate(self, attrs: dict) -> dict:
        if "sites" in attrs and "groups" in attrs:
            raise serializers.ValidationError({"sites": ["Send sites or groups, not both."]})
        if "groups" in attrs:
            attrs["groups"] = [
                Group(
                    name=group.get("name", ""),
                    monitors=[MonitorEntry(**m) for m in group["monitors"]],
                )
                for group in attrs["groups"]
            ]
        return attrs


class StatusPageCreateInputSerializer(_PageInput):
    project = _id_field(help_text="The id of the project the page belongs to.")


class StatusPageUpdateInputSerializer(_PageInput):
    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(
                f"Send at least one of {', '.join(self.fields)} to change."
            )
        return super().validate(attrs)


class MonitorOutputSerializer(serializers.Serializer):
    site = serializers.IntegerField(source="site_id")
    displayName = serializers.CharField(source="display_name")
    name = serializers.SerializerMethodField(help_text="What the page shows for it.")

    def get_name(self, entry) -> str:
        return entry.display_name or entry.site.name or entry.site.url


class GroupOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    monitors = MonitorOutputSerializer(many=True, source="monitors.all")


class StatusPageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    slug = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    customDomain = serializers.CharField(source="custom_domain", allow_null=True)
    showUrls = serializers.BooleanField(source="show_urls")
    showErrors = serializers.BooleanField(source="show_errors")
    showResponseTimes = serializers.BooleanField(source="show_response_times")
    url = serializers.SerializerMethodField(help_text="The public page (no login).")
    customDomainUrl = serializers.SerializerMethodField(
        help_text="The public page at its own domain; null without one."
    )
    logoType = serializers.CharField(
        source="logo_type", help_text="The logo's media type; empty without a logo."
    )
    logoUrl = serializers.SerializerMethodField(help_text="The public logo; null without one.")
    groups = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_url(self, page: StatusPage) -> str:
        return public_url(page)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_customDomainUrl(self, page: StatusPage) -> str | None:
        return domain_url(page)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_logoUrl(self, page: StatusPage) -> str | None:
        return logo_url(page)

    @extend_schema_field(GroupOutputSerializer(many=True))
    def get_groups(self, page: StatusPage) -> list:
        # Prefetched by statuspages.selectors.with_layout, in order.
        return GroupOutputSerializer(page.groups.all(), many=True).data


class StatusPageListOutputSerializer(serializers.Serializer):
    statusPages = StatusPageOutputSerializer(many=True, source="pages")


class StatusIncidentCreateInputSerializer(StrictInputSerializer):
    title = serializers.CharField()
    message = serializers.CharField(help_text="The first update's text.")
    status = serializers.ChoiceField(
        choices=StatusIncidentUpdate.Status.choices,
        required=False,
        help_text="investigating if omitted.",
    )
    impact = serializers.ChoiceField(choices=StatusIncident.Impact.choices, required=False)
    kind = serializers.ChoiceField(choices=StatusIncident.Kind.choices, required=False)
    sites = _site_ids("Ids of the page's monitors it concerns; none: the whole page.")


class StatusIncidentUpdateInputSerializer(StrictInputSerializer):
    title = serializers.CharField(required=False)
    impact = serializers.ChoiceField(choices=StatusIncident.Impact.choices, required=False)
    kind = serializers.ChoiceField(choices=StatusIncident.Kind.choices, required=False)
    sites = _site_ids("Ids of the page's monitors it concerns; empty: the whole page.")

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(
                f"Send at least one of {', '.join(self.fields)} to change."
            )
        return attrs


class StatusIncidentUpdateAddInputSerializer(StrictInputSerializer):
    status = serializers.ChoiceField(
        choices=StatusIncidentUpdate.Status.choices,
        help_text="resolved resolves the incident; any other status reopens it.",
    )
    message = serializers.CharField()


class StatusIncidentUpdateOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=StatusIncidentUpdate.Status.choices)
    message = serializers.CharField()
    author = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_author(self, update: StatusIncidentUpdate) -> str | None:
        return update.created_by.get_username() if update.created_by_id else None


class StatusIncidentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    page = serializers.IntegerField(source="page_id")
    kind = serializers.ChoiceField(choices=StatusIncident.Kind.choices)
    title = serializers.CharField()
    impact = serializers.ChoiceField(choices=StatusIncident.Impact.choices)
    sites = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField(help_text="Its latest update's status.")
    createdAt = serializers.DateTimeField(source="created_at")
    resolvedAt = serializers.DateTimeField(source="resolved_at", allow_null=True)
    updates = StatusIncidentUpdateOutputSerializer(many=True, source="updates.all")

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_sites(self, incident: StatusIncident) -> list[int]:
        return sorted(site.pk for site in incident.sites.all())

    @extend_schema_field(
        serializers.ChoiceField(choices=StatusIncidentUpdate.Status.choices, allow_null=True)
    )
    def get_status(self, incident: StatusIncident) -> str | None:
        updates = list(incident.updates.all())
        return updates[-1].status if updates else None


class StatusIncidentListOutputSerializer(serializers.Serializer):
    incidents = StatusIncidentOutputSerializer(many=True)
