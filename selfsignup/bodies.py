"""Forms larger than Django's request body limit, for the views that ask for it.

DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) bounds every POST, the public sign-up included. A site's
settings hold two lists of up to 10,000 domains, which a browser sends percent-encoded: nine
bytes for each character of an international domain, so lists the form accepts can be several
times that size. A view marked `@large_form(max_bytes)` takes bodies up to its own bound, from
signed-in users only; everything else keeps Django's.
"""

from collections.abc import Callable
from io import BytesIO

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve


def large_form(max_bytes: int) -> Callable:
    """Mark a view as taking url-encoded form bodies of up to `max_bytes`."""

    def mark(view: Callable) -> Callable:
        view.large_form_max_bytes = max_bytes
        return view

    return mark


class LargeFormsMiddleware:
    """Reads the body of a POST to a `@large_form` view beyond Django's limit, before anything
    (the CSRF check) reads it within that limit. Placed after the authentication middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _content_length(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request.method == "POST" and limit is not None and length > limit:
            self._read_large_form(request, length)
        return self.get_response(request)

    @staticmethod
    def _read_large_form(request: HttpRequest, length: int) -> None:
        if request.content_type != "application/x-www-form-urlencoded":
            return
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return
        allowed = getattr(match.func, "large_form_max_bytes", 0)
        if length > allowed or not request.user.is_authenticated:
            return
        # What `HttpRequest.body` does, without its limit; the form is then parsed from it.
        body = request.read(length)
        request._body = body
        request._stream = BytesIO(body)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
