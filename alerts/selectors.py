"""Reads for the alerts center: the queue, a request's page, the audit trail."""

from dataclasses import dataclass

from django.db.models import BigIntegerField, QuerySet, Value
from django.db.models.functions import Cast

from alerts.models import AuditEvent
from mail.models import OutboxEmail
from orgs.models import Administrator
from orgs.permissions import emails_visible_to, sites_visible_to
from orgs.services import is_elsewhere
from selfsignup.params import text_param
from selfsignup.search import search_matches
from signup.models import SignupRequest
from sites.models import Site

STATUS_FILTERS = ["pending", "unconfirmed", "approved", "rejected", "all"]


@dataclass(frozen=True)
class QueueFilters:
    status: str = "pending"
    site: str = ""
    query: str = ""

    @classmethod
    def from_params(cls, params) -> "QueueFilters":
        status = params.get("status", "pending")
        return cls(
            status=status if status in STATUS_FILTERS else "pending",
            site=text_param(params, "site", max_length=63),
            query=text_param(params, "q", max_length=100),
        )


def _visible_by_site(
    rows: QuerySet, admin: Administrator, slug: str, sites: list[Site] | None
) -> QuerySet:
    """The organization's `rows` the administrator sees, of the site `slug` if given.

    `sites` are the administrator's sites (`queue_sites`, which the pages list anyway). The site
    filter and a site administrator's rows go by their ids: a join on the slug, or a subquery
    of the administrator's sites, left the site indexes unused (every row of the organization
    read and sorted)."""
    if sites is None:
        sites = queue_sites(admin)
    # As a bigint, like the column: the search indexes (btree_gin) have no operator for the
    # integer a plain number is sent as, and would then read every organization's matches.
    rows = rows.filter(organization_id=Cast(Value(admin.organization_id), BigIntegerField()))
    if slug:
        return rows.filter(site_id__in=[s.pk for s in sites if s.slug == slug])
    if admin.role == Administrator.Role.SITE:
        return rows.filter(site_id__in=[s.pk for s in sites])
    return rows


def request_queue(
    admin: Administrator, filters: QueueFilters, sites: list[Site] | None = None
) -> QuerySet[SignupRequest]:
    """Alerts center › Requests: the administrator's requests matching the filters (unordered;
    the keyset pager orders them newest first on the queue's index)."""
    requests = SignupRequest.objects.select_related("site", "decided_by")
    requests = _visible_by_site(requests, admin, filters.site, sites)
    if filters.status != "all":
        requests = requests.filter(status=filters.status)
    if filters.query:
        requests = requests.filter(search_matches(filters.query))
    return requests


def queue_sites(admin: Administrator) -> list[Site]:
    return list(sites_visible_to(admin).order_by("name").only("name", "slug"))


def address_in_other_organization(req: SignupRequest) -> bool:
    """Whether a pending request's address is another organization's, a person's or an
    administrator's (so approving it will be refused)."""
    return req.is_pending and is_elsewhere(req.email_normalized, req.organization_id)


def failed_emails(admin: Administrator) -> QuerySet[OutboxEmail]:
    """Alerts center › Failed emails: the emails the administrator sees that ended failed and
    that a new try could still deliver usefully, with their request (unordered; the keyset
    pager orders them newest first)."""
    return emails_visible_to(admin).resendable().select_related("request__site")


def request_emails(req: SignupRequest) -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(request=req).order_by("created_at", "pk"))


def request_events(req: SignupRequest) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(request=req).select_related("actor").order_by("pk"))


def audit_trail(
    admin: Administrator, *, site: str = "", sites: list[Site] | None = None
) -> QuerySet[AuditEvent]:
    """The audit trail (unordered; the keyset pager orders it newest first), on the trail's
    site index when filtered to a site or seen by a site administrator."""
    events = AuditEvent.objects.select_related("site", "request")
    return _visible_by_site(events, admin, site, sites)
