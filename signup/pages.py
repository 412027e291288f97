"""The page a valid sign-up answers, rendered once and then served with a fresh CSRF token.

Every valid sign-up gets the same page (SPEC section 5: the same status and body, apart from the
CSRF token), and rendering it through the template engine was the largest single cost of a
sign-up POST (see `bench/signup_steps.py`). The page is rendered once per site (by what it shows
of the site), language and address, with a marker where the token goes; each answer puts this
request's token in its place. The page shows nothing of the visitor: the templates it extends
must stay that way, and `tests/test_public_pages.py` compares it with a fresh rendering.
"""

import secrets
import threading
from collections import OrderedDict

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language

from sites.models import Site

TEMPLATE = "signup/thanks.html"
# Pages kept per process, the least recently used dropped first: a few KB each.
MAX_PAGES = 512

# Where the token goes: random, so no site name or translation can contain it.
_TOKEN_MARK = f"csrf{secrets.token_hex(16)}"
_pages: OrderedDict[tuple, str] = OrderedDict()
_lock = threading.Lock()


def thanks_page(request: HttpRequest, site: Site) -> HttpResponse:
    """The answer to a valid sign-up on `site`, whatever happened behind it."""
    if request.META.get("QUERY_STRING"):
        # Not one page per query string.
        return HttpResponse(render_to_string(TEMPLATE, thanks_context(site), request))
    key = (site.pk, site.slug, site.name, site.organization.name, get_language(), request.path)
    with _lock:
        page = _pages.get(key)
        if page is not None:
            _pages.move_to_end(key)
    if page is None:
        context = {**thanks_context(site), "csrf_token": _TOKEN_MARK}
        page = render_to_string(TEMPLATE, context, request)
        with _lock:
            _pages[key] = page
            while len(_pages) > MAX_PAGES:
                _pages.popitem(last=False)
    return HttpResponse(page.replace(_TOKEN_MARK, get_token(request)))


def thanks_context(site: Site) -> dict:
    # The language switcher goes to the site's home page: coming back to the sign-up's address
    # would show an empty form.
    return {"site": site, "language_next": reverse("signup:home", kwargs={"slug": site.slug})}


def thanks_pages_forget() -> None:
    """Drop every rendered page (tests that change templates or translations)."""
    with _lock:
        _pages.clear()
