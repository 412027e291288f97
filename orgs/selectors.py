"""Reads about organizations and their people."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from orgs.models import Administrator, HostLicense, Person
from orgs.permissions import (
    audit_visible_to,
    emails_visible_to,
    people_visible_to,
    sites_visible_to,
)
from selfsignup.search import search_matches
from sites.domains import InvalidDomain, normalize_email
from sites.models import Site


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str


def review_recipients(site: Site) -> list[Recipient]:
    """Who gets the review notification emails of `site`, each in their own language."""
    if site.notify == Site.Notify.ADDRESSES:
        # Logins are stored normalized (a Unicode domain as its A-label).
        logins = {a: _login_email(a) for a in site.notify_addresses}
        languages = dict(
            Administrator.objects.filter(
                organization_id=site.organization_id, user__email__in=logins.values()
            ).values_list("user__email", "language")
        )
        default = site.organization.language
        return [Recipient(a, languages.get(logins[a], default)) for a in site.notify_addresses]
    admins = Administrator.objects.filter(
        organization_id=site.organization_id, user__is_active=True
    ).select_related("user")
    if site.notify == Site.Notify.SITE_ADMINS:
        admins = admins.filter(
            Q(role=Administrator.Role.FULL) | Q(role=Administrator.Role.SITE, sites=site)
        ).distinct()
    else:
        admins = admins.full()
    return [Recipient(a.user.email, a.language) for a in admins]


def _login_email(address: str) -> str:
    try:
        return normalize_email(address)
    except InvalidDomain:
        return address.lower()


def people_list(admin: Administrator, *, query: str = "") -> QuerySet[Person]:
    """The people page: an administrator's people with their licenses on the sites the
    administrator sees (a site administrator sees nothing of other sites), and who created them."""
    licenses = HostLicense.objects.filter(site__in=sites_visible_to(admin)).select_related("site")
    people = (
        people_visible_to(admin)
        .select_related("created_by")
        .prefetch_related(Prefetch("licenses", queryset=licenses))
    )
    if query:
        people = people.filter(search_matches(query))
    return people


PENDING_COUNT_CAP = 1000
# The Overview counts the emails that failed within these last days.
FAILED_EMAILS_RECENT_DAYS = 7


def overview(admin: Administrator) -> dict:
    """The overview page: each visible site with its pending requests, and recent activity."""
    from signup.models import SignupRequest

    # Counting stops at the cap (the number is for a glance, the queue has the rest), each site
    # on the queue's site index, all sites in the one query.
    # Only the models' own table names go into the text; the values are parameters.
    capped = RawSQL(  # noqa: S611
        f"SELECT count(*) FROM (SELECT 1 FROM {SignupRequest._meta.db_table} r "  # noqa: S608
        f"WHERE r.site_id = {Site._meta.db_table}.id AND r.status = %s LIMIT %s) capped",
        [SignupRequest.Status.PENDING, PENDING_COUNT_CAP],
    )
    sites = list(sites_visible_to(admin).annotate(pending_count=capped).order_by("name"))
    recent = list(
        audit_visible_to(admin).select_related("site", "request").order_by("-created_at")[:8]
    )
    # Emails that failed lately, counted up to the cap (Alerts center › Failed emails lists them
    # all): one that nobody can fix stops showing here after a while.
    since = timezone.now() - timedelta(days=FAILED_EMAILS_RECENT_DAYS)
    # A row's last change is the try that ended it failed (or a Send again that failed again).
    failed = emails_visible_to(admin).resendable().filter(updated_at__gte=since).order_by()
    return {
        "sites": sites,
        "pending_total": sum(site.pending_count for site in sites),
        "recent": recent,
        "cap": PENDING_COUNT_CAP,
        "failed_emails": failed[:PENDING_COUNT_CAP].count(),
        "failed_days": FAILED_EMAILS_RECENT_DAYS,
    }
