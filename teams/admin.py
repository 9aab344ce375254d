"""The operators' view of API tokens: who holds which, never the key.

Only a digest is stored, so there is no key to show; the admin lists a
token's name and prefix (enough to tell tokens apart) and may delete one.
Tokens are made by their owners (teams.tokens.token_create), not here.
"""

from django.contrib import admin

from teams.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix_shown", "user", "read_only", "last_used_at", "expires_at")
    list_filter = ("read_only",)
    search_fields = ("name", "prefix", "user__username")
    fields = (
        "name",
        "prefix_shown",
        "user",
        "read_only",
        "created_at",
        "last_used_at",
        "expires_at",
    )
    readonly_fields = fields
    list_select_related = ("user",)

    @admin.display(description="Key begins")
    def prefix_shown(self, token: ApiToken) -> str:
        return f"{token.prefix}…"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
