from __future__ import annotations

from django.contrib import admin

from recommender_django.accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `mlapps tokens create recommender NAME`; the admin can only revoke."""

    list_display = ("name", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "name", "token_sha256", "created_at", "last_used_at")
    actions = ("revoke",)

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:  # noqa: ANN001
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"revoked {count} token(s)")
