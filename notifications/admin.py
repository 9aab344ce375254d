from django.contrib import admin

from notifications.models import NotificationAttempt


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
