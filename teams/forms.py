"""Forms of the project and account pages: they translate HTML input for teams.services."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from teams.models import Project, Role

INVITABLE_ROLES = [(role.value, role.label) for role in Role if role != Role.OWNER]
TOKEN_LIFETIMES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class ProjectForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)


class ProjectSettingsForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    require_2fa = forms.BooleanField(
        label="Members must sign in with a second factor", required=False
    )

    @classmethod
    def of(cls, project: Project) -> "ProjectSettingsForm":
        return cls(initial={"name": project.name, "require_2fa": project.require_2fa})


class InviteForm(forms.Form):
    """Add an account by username, or invite an email address (an account with it is added)."""

    who = forms.CharField(
        label="Username or email",
        max_length=254,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "placeholder": "bob or bob@example.com"}
        ),
    )
    role = forms.ChoiceField(label="Role", choices=INVITABLE_ROLES, initial=Role.EDITOR)

    def target(self) -> dict:
        """member_add_or_invite's keyword: `email` when it looks like one, else `username`."""
        who = self.cleaned_data["who"]
        return {"email": who} if "@" in who else {"username": who}

    def clean_who(self) -> str:
        who = self.cleaned_data["who"].strip()
        if "@" in who:
            try:
                forms.EmailField().clean(who)
            except ValidationError:
                raise ValidationError("Enter a username or a valid email address.") from None
        return who


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": "Grafana, CI, laptop…", "autocomplete": "off"}
        ),
    )
    read_only = forms.BooleanField(label="Read-only (its writes answer 403)", required=False)
    expires = forms.ChoiceField(label="Expires", choices=TOKEN_LIFETIMES, required=False)

    def expires_at(self):
        days = self.cleaned_data.get("expires")
        return timezone.now() + timedelta(days=int(days)) if days else None
