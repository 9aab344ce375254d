import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from notifications.models import Acknowledgement, Channel, Notification, NotificationAttempt
from notifications.serializers import masked_settings
from notifications.services import CLEANERS, channel_delete, channel_update, clean_fields


@admin.register(NotificationAttempt)
class NotificationAttemptAdmin(admin.ModelAdmin):
    """Read-only history: why an alert arrived late, or never (written by delivery only)."""

    list_display = ("transition", "channel", "outcome", "status_code", "attempted_at", "error")
    list_filter = ("outcome", "channel")
    date_hierarchy = "attempted_at"
    search_fields = ("transition__site__url", "transition__site__name", "error")
    list_select_related = ("transition__site",)
    readonly_fields = [field.name for field in NotificationAttempt._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ChannelAdminForm(forms.ModelForm):
    """Name, events, default, minutes and on/off; settings are changed on the Channels page."""

    class Meta:
        model = Channel
        fields = (
            "name",
            "events",
            "is_default",
            "remind_every_minutes",
            "escalate_after_minutes",
            "enabled",
        )

    def clean(self) -> dict:
        data = super().clean()
        checked = {name: data[name] for name in CLEANERS if name in data}
        try:
            data.update(clean_fields(**checked))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)
        return data


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Channels with their health. Secrets are never shown; settings are only shown.

    Changes go through notifications.services, so turning a channel back on
    clears why it was off, and each change is in the project's audit log.
    """

    form = ChannelAdminForm
    list_display = ("name", "kind", "project", "is_default", "enabled", "disabled_reason")
    list_filter = ("kind", "enabled", "is_default")
    search_fields = ("name", "project__name", "disabled_reason", "last_error")
    list_select_related = ("project",)
    readonly_fields = (
        "project",
        "kind",
        "settings_shown",
        "disabled_reason",
        "last_success_at",
        "last_error",
        "last_error_at",
        "created_at",
    )

    @admin.display(description="Settings (secrets masked)")
    def settings_shown(self, channel: Channel) -> str:
        return json.dumps(masked_settings(channel), indent=1, ensure_ascii=False)

    def has_add_permission(self, request) -> bool:
        return False  # a kind's settings need its form: the project's Channels page

    def save_model(self, request: HttpRequest, obj: Channel, form, change: bool) -> None:
        fresh = Channel.objects.get(pk=obj.pk)
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        channel_update(actor=None, channel=fresh, **changes)

    def delete_model(self, request: HttpRequest, obj: Channel) -> None:
        try:
            channel_delete(actor=None, channel=obj)
        except Channel.DoesNotExist:
            pass  # deleted meanwhile: what was asked

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for channel in queryset:
            self.delete_model(request, channel)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The outbox: each message owed to a channel, and how it went (written by delivery only)."""

    list_display = ("created_at", "event", "channel", "site", "status", "attempts", "sent_at")
    list_filter = ("status", "event", "channel__kind")
    date_hierarchy = "created_at"
    search_fields = ("channel__name", "site__name", "site__url")
    list_select_related = ("channel", "site")
    readonly_fields = [field.name for field in Notification._meta.fields]


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ("site", "transition", "by_name", "at", "via")
    list_filter = ("via",)
    search_fields = ("site__name", "site__url", "by_name")
    list_select_related = ("site", "transition")
    readonly_fields = [field.name for field in Acknowledgement._meta.fields]
