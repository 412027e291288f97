from django.contrib import admin

from sites.models import DomainPattern, Site


class DomainPatternInline(admin.TabularInline):
    model = DomainPattern
    extra = 0
    fields = ["pattern", "action", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # patterns change through the hub's settings page (validated, audited)


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "organization", "kind", "sso_enabled", "signup_enabled"]
    list_filter = ["kind", "sso_enabled", "signup_enabled", "organization"]
    search_fields = ["name", "slug"]
    readonly_fields = [
        "signup_enabled",
        "mode",
        "other_domains",
        "notify",
        "notify_addresses",
        "require_confirmation",
        "required_fields",
        "settings_updated_at",
        "settings_updated_by",
    ]
    inlines = [DomainPatternInline]
