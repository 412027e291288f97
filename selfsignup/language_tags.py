"""`{% language_switcher %}`: the English / French buttons at the top of every page.

A tag rather than an included template: it is on every public and hub page, the sign-up POST
included, and as a template (an include, a loop, a lookup per language) it cost half of the
rendering of the page after a sign-up (see `bench/signup_throughput.py`). What depends only on
the active language is built once per language; the token and the return address each time. The
token is the context's `csrf_token`, as for `{% csrf_token %}`, so that a page rendered once can
carry a marker in its place (`signup/pages.py`).
"""

import functools

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import get_language, get_language_info, gettext

register = template.Library()


@functools.cache
def _buttons(active: str) -> SafeString:
    """The hidden label and one button per language, with `active` marked as the current one."""
    buttons = format_html_join(
        "\n",
        '<button type="submit" name="language" value="{0}" lang="{0}" '
        'aria-describedby="lang-label"{1}>{2}</button>',
        (
            (
                code,
                SafeString(' aria-current="true" class="active"') if code == active else "",
                capfirst(get_language_info(code)["name_local"]),
            )
            for code, _name in settings.LANGUAGES
        ),
    )
    label = format_html(
        '<span class="visually-hidden" id="lang-label">{}</span>', gettext("Language")
    )
    return format_html("{}\n{}", label, buttons)


@register.simple_tag(takes_context=True)
def language_switcher(context: template.Context, *, landing: bool = False) -> SafeString:
    """A form posting to `set_language` that comes back to the page it is on, or, for a page
    that answers a POST to an address that takes POSTs only, to the `language_next` its view
    names (coming back to that address would be a 405). With `landing` (the error pages, which
    any POST can end on), an answer to a POST comes back to the home page of its part of the
    product instead."""
    request = context.get("request")
    hidden = ""
    if request is not None:
        back = context.get("language_next")
        if not back:
            posted = request.method not in ("GET", "HEAD")
            back = landing_page(request) if landing and posted else request.get_full_path()
        hidden = format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">\n'
            '<input type="hidden" name="next" value="{}">',
            context.get("csrf_token") or get_token(request),
            back,
        )
    return format_html(
        '<form class="lang-switch" action="{}" method="post">\n{}\n{}\n</form>',
        reverse("set_language"),
        hidden,
        _buttons(get_language()),
    )


def landing_page(request: HttpRequest) -> str:
    """The home page of the part of the product a request was for: its site's, or the hub's."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.namespace == "signup" and "slug" in match.kwargs:
        return reverse("signup:home", kwargs={"slug": match.kwargs["slug"]})
    return reverse("hub:home")


@register.simple_tag(takes_context=True)
def landing_url(context: template.Context) -> str:
    """`landing_page` of the page's request (for the error pages' way back)."""
    request = context.get("request")
    return landing_page(request) if request is not None else reverse("hub:home")
