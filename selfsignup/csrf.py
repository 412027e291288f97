"""The page of a form refused by the CSRF check (CSRF_FAILURE_VIEW)."""

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent with a token that no longer holds (the page was open long, or its user signed
    in or out in another tab): the product's page, in the page's language, with a way back,
    rather than Django's bare one. Django's middleware has logged the reason already."""
    context = {"no_cookie": reason == REASON_NO_CSRF_COOKIE}
    return render(request, "403_csrf.html", context, status=403)
