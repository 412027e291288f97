"""Who may see and change what in the hub: one helper per object kind, used by every hub view.

An administrator sees only their organization; a site administrator only their sites; a
read-only administrator sees everything of the organization and changes nothing. Another
organization's object answers 404, exactly as a missing one.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import get_language, get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

from alerts.models import AuditEvent
from mail.models import OutboxEmail
from orgs.models import Administrator, HostLicense, Person
from signup.models import SignupRequest
from sites.models import Site


def hub_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Require a signed-in administrator (set as `request.admin`); refuse a read-only
    administrator's POST with 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("hub:login"))
        admin = (
            Administrator.objects.select_related("organization", "user")
            .filter(user=request.user)
            .first()
        )
        if admin is None:
            raise PermissionDenied("not an administrator")
        if request.method not in ("GET", "HEAD") and not admin.can_write:
            raise PermissionDenied("read-only administrator")
        _remember_language(request, admin)
        request.admin = admin
        return view(request, *args, **kwargs)

    return wrapper


def _remember_language(request: HttpRequest, admin: Administrator) -> None:
    """An administrator's emails are in the language they last read the hub in, when they asked
    for it: with the switcher, or through their browser (`Accept-Language`). A page in the
    default language because nothing was asked for (a browser wanting only German, say) changes
    nothing."""
    active = get_language()
    if active == admin.language or not _asked_for(request, active):
        return
    Administrator.objects.filter(pk=admin.pk).update(language=active)
    admin.language = active


def _asked_for(request: HttpRequest, language: str) -> bool:
    if request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) == language:
        return True
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        try:
            if get_supported_language_variant(code) == language:
                return True
        except LookupError:
            continue
    return False


def _require_write(admin: Administrator, write: bool) -> None:
    if write and not admin.can_write:
        raise PermissionDenied("read-only administrator")


def sites_visible_to(admin: Administrator) -> QuerySet[Site]:
    sites = Site.objects.filter(organization_id=admin.organization_id)
    if admin.role == Administrator.Role.SITE:
        sites = sites.filter(site_administrators=admin)
    return sites


def get_site_for(admin: Administrator, slug: str, *, write: bool = False) -> Site:
    site = sites_visible_to(admin).select_related("organization").filter(slug=slug).first()
    if site is None:
        raise Http404("no such site")
    _require_write(admin, write)
    return site


def requests_visible_to(admin: Administrator) -> QuerySet[SignupRequest]:
    requests = SignupRequest.objects.filter(organization_id=admin.organization_id)
    if admin.role == Administrator.Role.SITE:
        requests = requests.filter(site__in=sites_visible_to(admin))
    return requests


def get_request_for(admin: Administrator, pk: int, *, write: bool = False) -> SignupRequest:
    req = requests_visible_to(admin).select_related("site", "decided_by").filter(pk=pk).first()
    if req is None:
        raise Http404("no such request")
    _require_write(admin, write)
    return req


def people_visible_to(admin: Administrator) -> QuerySet[Person]:
    people = Person.objects.filter(organization_id=admin.organization_id)
    if admin.role == Administrator.Role.SITE:
        # A semi-join on the administrator's site ids, not a join and DISTINCT (which sorted
        # every licensed person of the organization before the page could take its first 50).
        site_ids = list(sites_visible_to(admin).values_list("pk", flat=True))
        licensed = HostLicense.objects.filter(person=OuterRef("pk"), site_id__in=site_ids)
        people = people.filter(Exists(licensed))
    return people


def can_add_people(admin: Administrator) -> bool:
    """Adding a person applies the template's licenses on any site: full administrators only."""
    return admin.role == Administrator.Role.FULL


def emails_visible_to(admin: Administrator) -> QuerySet[OutboxEmail]:
    """The organization's emails; a site administrator's are those about a request on their
    sites (the organization's own, like Add person's, are about no site)."""
    emails = OutboxEmail.objects.filter(organization_id=admin.organization_id)
    if admin.role == Administrator.Role.SITE:
        emails = emails.filter(request__site__in=sites_visible_to(admin))
    return emails


def get_email_for(admin: Administrator, email_id: int, *, write: bool = False) -> OutboxEmail:
    email = emails_visible_to(admin).filter(pk=email_id).first()
    if email is None:
        raise Http404("no such email")
    _require_write(admin, write)
    return email


def audit_visible_to(admin: Administrator) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(organization_id=admin.organization_id)
    if admin.role == Administrator.Role.SITE:
        events = events.filter(site__in=sites_visible_to(admin))
    return events
