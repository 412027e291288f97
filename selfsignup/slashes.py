"""Addresses typed without their final slash, sent on to the one with it."""

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.middleware import common
from django.utils.http import escape_leading_slashes


class HttpResponsePermanentRedirectKeepingMethod(HttpResponsePermanentRedirect):
    """308: the client sends the same request, method and body, to the new address."""

    status_code = 308


class CommonMiddleware(common.CommonMiddleware):
    """Django's, except that its redirect to the address with the final slash is a 308, so a
    form posted to `/sites/acme/signup` arrives at `/sites/acme/signup/` with its fields. Django
    answers such a POST with a 301, which browsers follow with a GET (the form is lost), and
    with DEBUG on (`make run`) with an error page (a 500)."""

    response_redirect_class = HttpResponsePermanentRedirectKeepingMethod

    def get_full_path_with_slash(self, request: HttpRequest) -> str:
        # Django's, without the error it raises for a POST with DEBUG on.
        return escape_leading_slashes(request.get_full_path(force_append_slash=True))
