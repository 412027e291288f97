"""Operators' views of organizations, people and licenses (at /django-admin/)."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext as _

from orgs.models import Administrator, HostLicense, LicenseTemplate, Organization, Person, User
from orgs.services import license_remove, person_delete, person_elsewhere


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    filter_horizontal = ["groups"]
    list_filter = ["is_staff", "is_active"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "language", "created_at"]
    search_fields = ["name", "slug"]


def _refuse_other_organizations_sites(sites, organization: Organization) -> None:
    others = [site.name for site in sites if site.organization_id != organization.pk]
    if others:
        raise forms.ValidationError(
            _("These sites belong to another organization: %(sites)s")
            % {"sites": ", ".join(others)}
        )


class AdministratorForm(forms.ModelForm):
    class Meta:
        model = Administrator
        fields = ["user", "organization", "role", "language", "sites"]

    def clean(self) -> dict:
        """An address belongs to one organization (SPEC section 2): an administrator's login
        is not another organization's person. Its sites are its organization's."""
        cleaned = super().clean()
        user, organization = cleaned.get("user"), cleaned.get("organization")
        if user is None or organization is None:
            return cleaned
        if person_elsewhere(user.email, organization.pk):
            raise forms.ValidationError(
                _("%(email)s belongs to a person of another organization.") % {"email": user.email}
            )
        _refuse_other_organizations_sites(cleaned.get("sites", []), organization)
        return cleaned


@admin.register(Administrator)
class AdministratorAdmin(admin.ModelAdmin):
    form = AdministratorForm
    list_display = ["user", "organization", "role", "language"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["sites"]


class HostLicenseInline(admin.TabularInline):
    """A person's licenses: given by an approval or by People › Add person, which record who
    gave them in the organization's audit trail; one can be taken back here (recorded too)."""

    model = HostLicense
    extra = 0
    fields = ["site", "source", "granted_by", "granted_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "organization", "source", "created_at"]
    list_filter = ["source", "organization"]
    search_fields = ["email_normalized", "first_name", "last_name"]
    inlines = [HostLicenseInline]
    # The address is how sign-ups, approvals and the one-organization rule find a person: it is
    # set by the services (People › Add person, approval), which normalize it and check it
    # against every organization. Saved here it would keep its old normalized form. Who the
    # person belongs to, their login and their licenses change only through the services, which
    # record it in the organization's audit trail.
    readonly_fields = [
        "email",
        "organization",
        "user",
        "activation_nonce",
        "source",
        "created_by",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # People › Add person in the hub: it also applies the license template

    # Removing people (one or selected) goes through the service, which records it, with the
    # licenses that go with them, in the organization's audit trail.
    def delete_model(self, request, obj: Person) -> None:
        person_delete(person=obj, acting_user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for person in queryset.order_by("pk"):
            person_delete(person=person, acting_user=request.user)

    def save_formset(self, request, form, formset, change) -> None:
        # Licenses ticked for deletion go through the service, which records who removed them;
        # nothing else of a license changes here.
        removed = [
            deleted.instance
            for deleted in formset.deleted_forms
            if license_remove(license=deleted.instance, acting_user=request.user)
        ]
        # What the admin's own history (LogEntry) reads of a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], removed


class LicenseTemplateForm(forms.ModelForm):
    class Meta:
        model = LicenseTemplate
        fields = ["organization", "enabled", "sites"]

    def clean(self) -> dict:
        cleaned = super().clean()
        organization = cleaned.get("organization")
        if organization is None:
            return cleaned
        _refuse_other_organizations_sites(cleaned.get("sites", []), organization)
        return cleaned


@admin.register(LicenseTemplate)
class LicenseTemplateAdmin(admin.ModelAdmin):
    form = LicenseTemplateForm
    list_display = ["organization", "enabled"]
    filter_horizontal = ["sites"]
