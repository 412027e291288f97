"""Rate limits (django-ratelimit on the shared cache): their keys and their rates.

Rates come from settings (the environment) when a request is checked, so they can change
without code; the keys normalize what they count so that case or a trailing dot buys nothing.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_ratelimit.decorators import ratelimit

from sites.domains import InvalidDomain, normalize_email


def _address(value: str) -> str:
    try:
        return normalize_email(value)
    except InvalidDomain:
        return value.strip().lower()[:320]


def signup_address_key(group: str, request: HttpRequest) -> str:
    """One counter per site and address: repeated sign-ups (and their re-sent emails)."""
    slug = request.resolver_match.kwargs.get("slug", "")
    return f"{slug}:{_address(request.POST.get('email', ''))}"


def account_key(group: str, request: HttpRequest) -> str:
    """One counter per account tried at a sign-in form."""
    return _address(request.POST.get("username", ""))


def signup_ip_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGNUP_PER_IP


def signup_address_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGNUP_PER_ADDRESS


def signin_ip_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGNIN_PER_IP


def signin_account_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGNIN_PER_ACCOUNT


def limit_signups(view):
    """Sign-up POSTs: per client address, and per site and email address."""
    view = ratelimit(key="ip", rate=signup_ip_rate, method="POST", group="signup-ip")(view)
    return ratelimit(
        key=signup_address_key, rate=signup_address_rate, method="POST", group="signup-address"
    )(view)


def limit_signins(view):
    """Sign-in POSTs (hub and sites): per client address, and per account tried."""
    view = ratelimit(key="ip", rate=signin_ip_rate, method="POST", group="signin-ip")(view)
    return ratelimit(
        key=account_key, rate=signin_account_rate, method="POST", group="signin-account"
    )(view)


def too_many(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The answer over a limit: 429 with a page in the visitor's language."""
    response = render(
        request,
        "429.html",
        {"message": _("Too many attempts from here. Wait a few minutes, then try again.")},
        status=429,
    )
    response["Retry-After"] = "300"
    return response
