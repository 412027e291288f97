from django import forms
from django.contrib import admin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from orgs.models import HostLicense
from sites.models import DomainPattern, Site


class DomainPatternInline(admin.TabularInline):
    model = DomainPattern
    extra = 0
    fields = ["pattern", "action", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # patterns change through the hub's settings page (validated, audited)


def _signup_enabled_now(site: Site) -> bool:
    """Whether sign-up is on, read again under a lock when in a transaction (the admin's change
    view is one, up to its save): a hub save switching sign-up on meanwhile is seen here, or
    waits for this form's save, and can't meet an SSO or government change in the database."""
    if site.pk is None:
        return site.signup_enabled
    rows = Site.objects.filter(pk=site.pk)
    if transaction.get_connection().in_atomic_block:
        rows = rows.select_for_update()
    return bool(rows.values_list("signup_enabled", flat=True).first())


class SiteAdminForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["name", "slug", "organization", "kind", "sso_enabled"]

    def clean(self) -> dict:
        cleaned = super().clean()
        government = cleaned.get("kind") == Site.Kind.GOVERNMENT
        if _signup_enabled_now(self.instance) and (government or cleaned.get("sso_enabled")):
            raise forms.ValidationError(
                _(
                    "Host account sign-up is on for this site: turn it off in the hub before "
                    "making it a government site or signing its people in through SSO."
                )
            )
        site = self.instance
        if site.pk is not None and cleaned.get("slug", site.slug) != site.slug and _in_links(site):
            self.add_error(
                "slug",
                _(
                    "This site's address is in links already emailed (sign-up, confirmation, "
                    "activation, sign-in): it can't change while sign-up is on or the site has "
                    "requests or hosts."
                ),
            )
        return cleaned


def _in_links(site: Site) -> bool:
    """Whether emails sent for the site may carry its address: sign-up on, requests, hosts."""
    return (
        _signup_enabled_now(site)
        or site.requests.exists()
        or HostLicense.objects.filter(site=site).exists()
    )


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteAdminForm
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
        "rules_apply_requested_at",
    ]
    inlines = [DomainPatternInline]

    def save_model(self, request, obj, form, change) -> None:
        """Write only what the form changed: the hub's settings, saved since the form read the
        row, stay as saved."""
        if change:
            obj.save(update_fields=form.changed_data)
        else:
            obj.save()

    def get_deleted_objects(self, objs, request):
        """Django's, with a site's host licenses as protected: deleting the site would take them
        without the audit trail's record that taking one back writes."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        licensed = {
            license.site
            for license in HostLicense.objects.filter(site__in=list(objs)).select_related("site")
        }
        protected = [
            *protected,
            *(
                _(
                    "%(site)s has host licenses: take them back (each is recorded in the audit "
                    "trail) before deleting the site."
                )
                % {"site": site.name}
                for site in sorted(licensed, key=lambda site: site.name)
            ),
        ]
        return deleted, counts, perms_needed, protected

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # A site's requests, licenses and audit trail belong to its organization: it can't move.
        return [*self.readonly_fields, "organization"] if obj else self.readonly_fields
