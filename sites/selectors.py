"""Reads about sites: what new settings would do to the requests waiting for review."""

import hashlib
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, Value
from django.db.models.functions import Reverse, Right, StrIndex

from orgs.models import Administrator, Person
from signup.models import SignupRequest
from sites.decision import APPROVED, REJECTED, decide_among
from sites.domains import Pattern, candidate_suffixes
from sites.models import DomainPattern, Site
from sites.services import ParsedSettings, SettingsInvalid, SettingsValues, settings_validate


@dataclass(frozen=True)
class Impact:
    """How many pending requests the settings would decide now, out of how many."""

    approve: int = 0
    reject: int = 0
    pending: int = 0
    # Which requests are decided, and how (by domain): a page sends it back, so that the rules
    # decide nothing it didn't show (equal figures can be other requests). Empty: none.
    digest: str = ""

    @property
    def total(self) -> int:
        return self.approve + self.reject


def pending_by_domain(site: Site) -> list[tuple[str, int, int]]:
    """The site's pending requests counted by email domain (one grouped query): each domain,
    its count, and how many of those no approval can take because the address is another
    organization's (one of its people, or an administrator's login); those stay pending
    whatever the rules say. The domain follows the last `@`, as for decisions: a quoted local
    part may hold one."""
    after_last_at = StrIndex(Reverse("email_normalized"), Value("@")) - 1
    others = ~Q(organization_id=site.organization_id)
    elsewhere = Exists(
        Person.objects.filter(others, email_normalized=OuterRef("email_normalized"))
    ) | Exists(Administrator.objects.filter(others, user__email=OuterRef("email_normalized")))
    rows = (
        SignupRequest.objects.filter(site=site, status=SignupRequest.Status.PENDING)
        .annotate(domain=Right("email_normalized", after_last_at))
        .values("domain")
        .annotate(count=Count("pk"), held=Count("pk", filter=elsewhere))
        .values_list("domain", "count", "held")
    )
    return list(rows)


def _rules(parsed: ParsedSettings) -> dict[str, list[tuple[Pattern, str]]]:
    by_suffix: dict[str, list[tuple[Pattern, str]]] = {}
    for patterns, action in (
        (parsed.approve, DomainPattern.Action.APPROVE),
        (parsed.reject, DomainPattern.Action.REJECT),
    ):
        for pattern in patterns:
            by_suffix.setdefault(pattern.suffix, []).append((pattern, action))
    return by_suffix


def settings_impact(*, site: Site, parsed: ParsedSettings) -> Impact:
    """What saving `parsed` would decide among the site's pending requests."""
    rules = _rules(parsed)
    counts = {APPROVED: 0, REJECTED: 0}
    pending = 0
    decided = []
    for domain, count, held in pending_by_domain(site):
        pending += count
        matches = [m for suffix in candidate_suffixes(domain) for m in rules.get(suffix, [])]
        decision = decide_among(
            domain=domain,
            matches=matches,
            mode=parsed.values.mode,
            other_domains=parsed.values.other_domains,
        )
        if decision.outcome == APPROVED:
            if not site.signup_supported:
                continue  # refused where sign-up isn't supported: those requests stay pending
            count -= held  # another organization's addresses are refused: they stay pending
        if decision.outcome in counts and count:
            counts[decision.outcome] += count
            decided.append(f"{domain} {decision.outcome} {count}")
    digest = hashlib.sha256("\n".join(sorted(decided)).encode()).hexdigest()[:16] if decided else ""
    return Impact(approve=counts[APPROVED], reject=counts[REJECTED], pending=pending, digest=digest)


def proposed_settings_impact(site: Site, values: SettingsValues) -> Impact | None:
    """What saving `values` would decide among the site's pending requests, or None when they
    don't validate (the save then says why)."""
    try:
        parsed = settings_validate(site=site, values=values)
    except SettingsInvalid:
        return None
    return settings_impact(site=site, parsed=parsed)


def saved_settings_impact(site: Site) -> Impact:
    """What the site's saved settings would decide among its pending requests."""
    impact = proposed_settings_impact(site, SettingsValues.of(site))
    if impact is None:  # saved before a rule existed (or by hand): nothing to apply
        return Impact(pending=sum(count for _domain, count, _held in pending_by_domain(site)))
    return impact
