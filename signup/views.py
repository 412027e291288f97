"""The public pages of a site: home, sign-up, email confirmation, activation, host sign-in."""

import logging

from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.exceptions import Ratelimited

from selfsignup.ratelimits import SIGNUP_ADDRESS_LIMIT, limit_signins, signup_limited
from signup import selectors, services
from signup.forms import ActivationForm, SigninForm, SignupForm
from signup.pages import thanks_page
from signup.tokens import BadToken
from sites.models import Site

logger = logging.getLogger(__name__)


def _site(slug: str) -> Site:
    """The site of a public page, with only what these pages show (they are the hot path)."""
    site = selectors.public_site(slug)
    if site is None:
        raise Http404("No such site.")
    return site


def _bad_link(request: HttpRequest, site: Site, kind: str) -> HttpResponse:
    """A tampered, expired or used link: a clear page, never an error."""
    return render(request, "signup/bad_link.html", {"site": site, "kind": kind}, status=400)


def home(request: HttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    context = {"site": site, "host": selectors.host_status(user=request.user, site=site)}
    return render(request, "signup/home.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    if not site.signup_allowed:
        return render(request, "signup/unavailable.html", {"site": site}, status=404)
    form = SignupForm(request.POST or None, site=site)
    if request.method == "POST" and form.is_valid():
        limited = signup_limited(request)
        if limited not in (None, SIGNUP_ADDRESS_LIMIT):
            raise Ratelimited()
        if form.looks_automated:
            logger.info("sign-up on %s ignored: it looks automated", site.slug)
        elif limited:
            logger.info("sign-up on %s not stored: its address's limit is reached", site.slug)
        else:
            services.submission_receive(
                site=site,
                email=form.cleaned_data["email"],
                fields=form.submitted_fields(),
                language=get_language(),
            )
        # The same page for every address: what differs goes to the address by email.
        return thanks_page(request, site)
    return render(request, "signup/form.html", {"site": site, "form": form})


def confirm(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    site = _site(slug)
    if not site.signup_allowed:
        # Switched off since the link was sent: nothing is decided (the request expires).
        return render(request, "signup/unavailable.html", {"site": site}, status=404)
    try:
        req = services.request_confirm(token=token, site=site)
    except BadToken:
        return _bad_link(request, site, "confirm")
    return render(request, "signup/confirmed.html", {"site": site, "req": req})


@require_http_methods(["GET", "HEAD", "POST"])
def activate(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    site = _site(slug)
    try:
        person = services.activation_person(token=token, site=site)
    except BadToken:
        return _bad_link(request, site, "activate")
    form = ActivationForm(request.POST or None, email=person.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.host_activate(
                token=token, site=site, password=form.cleaned_data["password1"]
            )
        except BadToken:
            return _bad_link(request, site, "activate")
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("signup:home", slug=site.slug)
    return render(request, "signup/activate.html", {"site": site, "form": form, "person": person})


@require_http_methods(["GET", "HEAD", "POST"])
@limit_signins
def signin(request: HttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    if site.sso_enabled:
        # Its people sign in through their organization's SSO: a password here would be a way
        # around it (POSTs are refused, and no password is checked).
        status = 403 if request.method == "POST" else 200
        return render(request, "signup/signin_sso.html", {"site": site}, status=status)
    form = SigninForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.host_signed_in(user=form.get_user())
        login(request, form.get_user())
        return redirect("signup:home", slug=site.slug)
    return render(request, "signup/signin.html", {"site": site, "form": form})


@require_POST
def signout(request: HttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    logout(request)
    return redirect("signup:home", slug=site.slug)
