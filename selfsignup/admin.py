"""The operators' admin site at /django-admin/."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse

from selfsignup.ratelimits import limit_signins


class OperatorsAdminSite(admin.AdminSite):
    """Operators are Django superusers (SPEC section 2): a staff account with some model
    permissions must not reach actions that decide requests or resend emails."""

    def has_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Failed sign-ins are limited as on the hub and the sites (the same counters)."""
        return _limited_login(request, self, extra_context)


@limit_signins
def _limited_login(
    request: HttpRequest, site: admin.AdminSite, extra_context: dict | None
) -> HttpResponse:
    return admin.AdminSite.login(site, request, extra_context)


class OperatorsAdminConfig(AdminConfig):
    default_site = "selfsignup.admin.OperatorsAdminSite"
