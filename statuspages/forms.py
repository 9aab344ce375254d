"""The editor's forms: a page's settings with its monitors as one table, and incidents.

The monitor table has one row per monitor of the project: shown or not, the
group it is under (by name), the name the page shows and a position number.
Groups come in the order of their first monitor; monitors by position, then
as listed. The rules stay in statuspages.services; these only translate.
"""

from django import forms
from django.core.exceptions import ValidationError

from sites.models import Site
from statuspages.models import StatusIncident, StatusIncidentUpdate, StatusPage
from statuspages.services import MAX_LOGO_BYTES, Group, MonitorEntry, logo_type_of

MAX_POSITION = 10_000


class StatusPageForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    slug = forms.CharField(
        label="Slug",
        max_length=64,
        help_text="The page's address, /status/<slug>: lowercase letters, digits and hyphens.",
    )
    description = forms.CharField(
        label="Description", required=False, max_length=2000, widget=forms.Textarea({"rows": 3})
    )
    custom_domain = forms.CharField(
        label="Custom domain",
        required=False,
        max_length=253,
        help_text="Optional: a host name (status.example.com) pointed at this server; "
        "the page is then served at its /.",
    )
    show_urls = forms.BooleanField(label="Show the monitors' URLs", required=False)
    show_errors = forms.BooleanField(label="Show error texts", required=False)
    show_response_times = forms.BooleanField(label="Show response times", required=False)
    logo = forms.FileField(
        label="Logo",
        required=False,
        help_text="PNG, JPEG, GIF or WebP, at most 256 KiB (not SVG).",
        widget=forms.ClearableFileInput({"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)

    def __init__(self, *args, sites: list[Site], page: StatusPage | None = None, **kwargs):
        if page is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(page, name) for name in PAGE_INITIAL}
        super().__init__(*args, **kwargs)
        self.page, self.sites = page, sites
        self.logo_data: bytes | None = None
        if page is None or not page.logo_type:
            del self.fields["remove_logo"]
        placed = _placed(page) if page is not None else {}
        for index, site in enumerate(sites):
            entry = placed.get(site.pk)
            # Labelled by aria-label: a hidden <label> in a scrolled table escapes its clip.
            self.fields[f"show_{site.pk}"] = forms.BooleanField(
                required=False,
                initial=entry is not None,
                widget=forms.CheckboxInput({"aria-label": f"Show {site}"}),
            )
            self.fields[f"group_{site.pk}"] = forms.CharField(
                required=False,
                max_length=200,
                initial=entry[0] if entry else "",
                widget=forms.TextInput({"aria-label": f"Group of {site}"}),
            )
            self.fields[f"name_{site.pk}"] = forms.CharField(
                required=False,
                max_length=200,
                initial=entry[1] if entry else "",
                widget=forms.TextInput({"aria-label": f"Display name of {site}"}),
            )
            self.fields[f"position_{site.pk}"] = forms.IntegerField(
                required=False,
                min_value=0,
                max_value=MAX_POSITION,
                initial=entry[2] if entry else (index + 1) * 10,
                widget=forms.NumberInput({"aria-label": f"Position of {site}"}),
            )

    @property
    def settings_fields(self) -> list:
        return [self[name] for name in ("title", "slug", "description", "custom_domain")]

    @property
    def show_fields(self) -> list:
        return [self[name] for name in ("show_urls", "show_errors", "show_response_times")]

    @property
    def monitor_rows(self) -> list[dict]:
        """One row of bound fields per monitor, for the table."""
        return [
            {
                "site": site,
                "show": self[f"show_{site.pk}"],
                "group": self[f"group_{site.pk}"],
                "name": self[f"name_{site.pk}"],
                "position": self[f"position_{site.pk}"],
            }
            for site in self.sites
        ]

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        if upload:
            data = upload.read(MAX_LOGO_BYTES + 1)
            try:
                logo_type_of(data)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["logo"]) from None
            self.logo_data = data
        return upload

    def groups(self) -> list[Group]:
        """The chosen monitors as groups, in the order the positions say."""
        data = self.cleaned_data
        chosen = []
        for index, site in enumerate(self.sites):
            if not data.get(f"show_{site.pk}"):
                continue
            position = data.get(f"position_{site.pk}")
            key = (position if position is not None else MAX_POSITION + 1, index)
            name = (data.get(f"group_{site.pk}") or "").strip()
            chosen.append((key, name, site.pk, (data.get(f"name_{site.pk}") or "").strip()))
        groups: dict[str, Group] = {}
        for _, name, site_id, display_name in sorted(chosen):
            group = groups.setdefault(name, Group(name=name, monitors=[]))
            group.monitors.append(MonitorEntry(site=site_id, display_name=display_name))
        return list(groups.values())

    def values(self) -> dict:
        """statuspages.services' keywords (the logo apart: self.logo_data)."""
        data = self.cleaned_data
        values = {name: data[name] for name in PAGE_INITIAL}
        values["custom_domain"] = data["custom_domain"] or None
        values["groups"] = self.groups()
        return values

    def show(self, exc: ValidationError) -> None:
        """A service's errors beside their inputs; the monitors' above the table."""
        for field, errors in exc.message_dict.items():
            if field in ("groups", "sites"):
                self.add_error(None, errors)
            else:
                self.add_error(field if field in self.fields else None, errors)


PAGE_INITIAL = (
    "title",
    "slug",
    "description",
    "custom_domain",
    "show_urls",
    "show_errors",
    "show_response_times",
)


def _placed(page: StatusPage) -> dict[int, tuple[str, str, int]]:
    """site id → (group name, display name, position) as the page shows it now, 10 apart."""
    placed, position = {}, 0
    for group in page.groups.all():
        for entry in group.monitors.all():
            position += 10
            placed[entry.site_id] = (group.name, entry.display_name, position)
    return placed


class IncidentForm(forms.Form):
    """A new incident or announcement with its first update."""

    kind = forms.ChoiceField(label="Kind", choices=StatusIncident.Kind.choices)
    title = forms.CharField(label="Title", max_length=200)
    impact = forms.ChoiceField(
        label="Impact", choices=StatusIncident.Impact.choices, initial="minor"
    )
    status = forms.ChoiceField(label="Status", choices=StatusIncidentUpdate.Status.choices)
    message = forms.CharField(label="Message", max_length=5000, widget=forms.Textarea({"rows": 4}))
    sites = forms.MultipleChoiceField(
        label="Monitors concerned",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: the whole page.",
    )

    def __init__(self, *args, shown: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sites"].choices = [(str(pk), name) for pk, name in shown]

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["sites"] = [int(pk) for pk in data["sites"]]
        return data


class IncidentEditForm(forms.Form):
    """Corrections to an incident: its title, kind, impact and monitors."""

    kind = forms.ChoiceField(label="Kind", choices=StatusIncident.Kind.choices)
    title = forms.CharField(label="Title", max_length=200)
    impact = forms.ChoiceField(label="Impact", choices=StatusIncident.Impact.choices)
    sites = forms.MultipleChoiceField(
        label="Monitors concerned",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: the whole page.",
    )

    def __init__(self, *args, shown: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sites"].choices = [(str(pk), name) for pk, name in shown]

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["sites"] = [int(pk) for pk in data["sites"]]
        return data


class IncidentUpdateForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=StatusIncidentUpdate.Status.choices)
    message = forms.CharField(label="Message", max_length=5000, widget=forms.Textarea({"rows": 3}))


def show_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's errors beside the form's fields (others above the form)."""
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)
