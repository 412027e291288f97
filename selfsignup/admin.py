"""The operators' admin site at /django-admin/."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class OperatorsAdminSite(admin.AdminSite):
    """Operators are Django superusers (SPEC section 2): a staff account with some model
    permissions must not reach actions that decide requests or resend emails."""

    def has_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser


class OperatorsAdminConfig(AdminConfig):
    default_site = "selfsignup.admin.OperatorsAdminSite"
