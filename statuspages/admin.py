"""Admin for status pages and incidents: changes go through statuspages.services.

Pages are made in the project's editor (they need monitors chosen there);
the admin shows them, corrects their settings and deletes them, each change
in the audit log and the public cache dropped.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from statuspages.models import (
    StatusIncident,
    StatusIncidentUpdate,
    StatusPage,
    StatusPageMonitor,
)
from statuspages.services import (
    PAGE_FIELDS,
    incident_delete,
    page_clean,
    status_page_delete,
    status_page_update,
)


class StatusPageAdminForm(forms.ModelForm):
    class Meta:
        model = StatusPage
        fields = PAGE_FIELDS

    def clean(self) -> dict:
        data = super().clean()
        page = StatusPage(pk=self.instance.pk, project_id=self.instance.project_id)
        page._state.adding = False  # the stored row itself is no clash for the unique checks
        for name in PAGE_FIELDS:
            setattr(page, name, data.get(name, getattr(self.instance, name)))
        try:
            page_clean(page)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, errors)
        data["custom_domain"] = page.custom_domain
        return data


class MonitorInline(admin.TabularInline):
    model = StatusPageMonitor
    fields = ("group", "site", "display_name", "position")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StatusPage)
class StatusPageAdmin(admin.ModelAdmin):
    form = StatusPageAdminForm
    list_display = ("title", "slug", "project", "custom_domain", "updated_at")
    search_fields = ("title", "slug", "custom_domain", "project__name")
    list_select_related = ("project",)
    readonly_fields = ("project", "logo_type", "created_at", "updated_at")
    inlines = [MonitorInline]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("logo")

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        fresh = StatusPage.objects.get(pk=obj.pk)
        status_page_update(page=fresh, actor=request.user, request=request, **changes)

    def delete_model(self, request, obj) -> None:
        status_page_delete(page=obj, actor=request.user, request=request)

    def delete_queryset(self, request, queryset) -> None:
        for page in queryset:
            status_page_delete(page=page, actor=request.user, request=request)


class UpdateInline(admin.TabularInline):
    model = StatusIncidentUpdate
    fields = ("status", "message", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StatusIncident)
class StatusIncidentAdmin(admin.ModelAdmin):
    """Read-only: incidents are written and updated in the editor or the API."""

    list_display = ("title", "kind", "impact", "page", "created_at", "resolved_at")
    list_filter = ("kind", "impact")
    search_fields = ("title", "page__title", "page__slug")
    list_select_related = ("page",)
    inlines = [UpdateInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in StatusIncident._meta.fields] + ["sites"]

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        incident_delete(incident=obj, actor=request.user, request=request)

    def delete_queryset(self, request, queryset) -> None:
        for incident in queryset.select_related("page__project"):
            incident_delete(incident=incident, actor=request.user, request=request)
