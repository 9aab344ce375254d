"""API shapes for projects, members, invitations, the audit log and tokens (camelCase JSON).

Input serializers check types only; the rules (who may do what, the last
owner, personal projects) live in teams.services.
"""

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from sites.serializers import StrictInputSerializer
from teams.models import ApiToken, Role

# A token may live at most ten years; an expiry further off is a typo.
MAX_TOKEN_DAYS = 3650
ROLE_FIELD_HELP = "viewer < editor < admin < owner; each may do what the ones below may."


class ProjectCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200)


class ProjectUpdateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(required=False, max_length=200)
    require2fa = serializers.BooleanField(
        required=False, help_text="Members must sign in with a second factor."
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(
                f"Send at least one of {', '.join(self.fields)} to change."
            )
        return attrs


class ProjectOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="Your role in the project.")
    personal = serializers.SerializerMethodField(
        help_text="The project every account has; it cannot be deleted."
    )
    require2fa = serializers.BooleanField(source="require_2fa")
    createdAt = serializers.DateTimeField(source="created_at")
    siteCount = serializers.IntegerField(source="site_count")

    def get_personal(self, project) -> bool:
        return project.personal_of_id is not None


class ProjectListOutputSerializer(serializers.Serializer):
    projects = ProjectOutputSerializer(many=True)


class MemberAddInputSerializer(StrictInputSerializer):
    username = serializers.CharField(required=False, max_length=150)
    email = serializers.EmailField(
        required=False, help_text="An address with no account yet is sent an invitation."
    )
    role = serializers.ChoiceField(choices=Role.choices, help_text=ROLE_FIELD_HELP)

    def validate(self, attrs: dict) -> dict:
        if ("username" in attrs) == ("email" in attrs):
            raise serializers.ValidationError("Give a username or an email address, not both.")
        return attrs


class MemberUpdateInputSerializer(StrictInputSerializer):
    role = serializers.ChoiceField(
        choices=Role.choices,
        help_text="owner hands the project over: you become an admin.",
    )


class MemberOutputSerializer(serializers.Serializer):
    userId = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    role = serializers.ChoiceField(choices=Role.choices)
    joinedAt = serializers.DateTimeField(source="created_at")


class MemberListOutputSerializer(serializers.Serializer):
    members = MemberOutputSerializer(many=True)


class InvitationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    invitedBy = serializers.CharField(source="invited_by.username", allow_null=True, default=None)
    createdAt = serializers.DateTimeField(source="created_at")
    expiresAt = serializers.DateTimeField(source="expires_at")
    acceptedAt = serializers.DateTimeField(source="accepted_at", allow_null=True)
    usable = serializers.BooleanField(help_text="Not accepted yet and not expired.")


class InvitationListOutputSerializer(serializers.Serializer):
    invitations = InvitationOutputSerializer(many=True)


class InvitationSentOutputSerializer(serializers.Serializer):
    invitation = InvitationOutputSerializer()


class AuditTargetOutputSerializer(serializers.Serializer):
    type = serializers.CharField(source="target_type")
    id = serializers.CharField(source="target_id")
    repr = serializers.CharField(source="target_repr")


class AuditEventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField(source="created_at")
    actor = serializers.CharField(source="actor_name", help_text="The account's name at the time.")
    action = serializers.CharField()
    target = AuditTargetOutputSerializer(source="*")
    detail = serializers.DictField()
    address = serializers.IPAddressField(allow_null=True)


class AuditListOutputSerializer(serializers.Serializer):
    events = AuditEventOutputSerializer(many=True)
    nextBefore = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?before= for older events; null on the last page."
    )


class AuditListInputSerializer(serializers.Serializer):
    before = serializers.IntegerField(
        required=False, min_value=1, help_text="Only events with a smaller id (the next page)."
    )


class TokenCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    readOnly = serializers.BooleanField(required=False, default=False)
    expiresAt = serializers.DateTimeField(required=False)
    expiresInDays = serializers.IntegerField(required=False, min_value=1, max_value=MAX_TOKEN_DAYS)

    def validate_expiresAt(self, value):  # the JSON field's name
        now = timezone.now()
        if value <= now:
            raise serializers.ValidationError("The expiry must be in the future.")
        if value > now + timedelta(days=MAX_TOKEN_DAYS):
            raise serializers.ValidationError(f"A token lives at most {MAX_TOKEN_DAYS} days.")
        return value

    def validate(self, attrs: dict) -> dict:
        if "expiresAt" in attrs and "expiresInDays" in attrs:
            raise serializers.ValidationError("Give expiresAt or expiresInDays, not both.")
        return attrs

    def expires_at(self):
        """The expiry asked for, or None for a token that does not expire."""
        data = self.validated_data
        if "expiresInDays" in data:
            return timezone.now() + timedelta(days=data["expiresInDays"])
        return data.get("expiresAt")


class TokenOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters, to tell tokens apart.")
    readOnly = serializers.BooleanField(source="read_only")
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)


class TokenCreatedOutputSerializer(TokenOutputSerializer):
    key = serializers.CharField(help_text="Shown this once; only its hash is stored.")


class TokenListOutputSerializer(serializers.Serializer):
    tokens = TokenOutputSerializer(many=True)


def token_created_data(token: ApiToken, key: str) -> dict:
    token.key = key  # only on this instance, for this one answer
    return TokenCreatedOutputSerializer(token).data
