"""The language of a page: Django's choice (the switcher's cookie, then `Accept-Language`), and
the language of the email a link came from.

Emails carry their language in their links (`?lang=fr`, `signup.emails`). A person who signed
up in French and opens the link on another device, whose browser asks for English, gets the
confirmation or activation page in French, as the email was; the language is then kept (the
cookie the switcher sets) for the pages that follow. A choice made with the switcher on that
browser still wins.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware import locale
from django.utils import translation

LINK_LANGUAGE_PARAMETER = "lang"


class LocaleMiddleware(locale.LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        if f"{LINK_LANGUAGE_PARAMETER}=" not in request.META.get("QUERY_STRING", ""):
            return  # most requests: no query string to parse
        if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
            return
        try:
            language = translation.get_supported_language_variant(
                request.GET.get(LINK_LANGUAGE_PARAMETER, "")
            )
        except LookupError:
            return
        translation.activate(language)
        request.LANGUAGE_CODE = language
        request.link_language = language

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        language = getattr(request, "link_language", None)
        if language:
            # As `django.views.i18n.set_language` sets it.
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
