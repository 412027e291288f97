"""The decision engine (SPEC section 4): what happens to a new request for an address on a site.

The lookup asks the database only for the patterns whose suffix is the email's domain or one of
its suffixes (an indexed `IN` of at most a few dozen values), so it costs the same with 10 patterns
or 10,000.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from sites.domains import Pattern, best_match, candidate_suffixes, display_domain, email_domain
from sites.models import DomainPattern, Site

APPROVED = "approved"
REJECTED = "rejected"
PENDING = "pending"

BASIS_PATTERN = "pattern"
BASIS_MODE = "mode"
# The rules approved a request that could not be approved (the address is another
# organization's, or the site no longer supports sign-up): it waits for an administrator.
BASIS_HELD = "held"


@dataclass(frozen=True)
class Decision:
    outcome: str  # approved, rejected or pending
    basis: str  # pattern, mode, or held (what the rules approved could not be)
    pattern: str = ""  # the matching pattern (IDNA form) when the rules matched one

    @property
    def is_final(self) -> bool:
        return self.outcome != PENDING

    @property
    def reason(self) -> str:
        """A sentence for people: which rule decided, in the active language."""
        return decision_reason(self.outcome, self.basis, self.pattern)


def decision_reason(outcome: str, basis: str, pattern: str) -> str:
    if basis == BASIS_HELD:
        if pattern:
            return _(
                "The address matches %(pattern)s in the domains to approve automatically, but "
                "the request could not be approved automatically: an administrator decides."
            ) % {"pattern": display_domain(pattern)}
        return _(
            "Automatic mode approves requests from other domains, but this one could not be "
            "approved automatically: an administrator decides."
        )
    if basis == BASIS_PATTERN:
        shown = display_domain(pattern)
        if outcome == APPROVED:
            return _("The address matches %(pattern)s in the domains to approve automatically.") % {
                "pattern": shown
            }
        return _("The address matches %(pattern)s in the domains to reject automatically.") % {
            "pattern": shown
        }
    if outcome == APPROVED:
        return _("Automatic mode: requests from other domains are approved.")
    if outcome == REJECTED:
        return _("Automatic mode: requests from other domains are rejected.")
    return _("Review mode: an administrator decides.")


def decide_among(
    *, domain: str, matches: list[tuple[Pattern, str]], mode: str, other_domains: str
) -> Decision:
    """Pure decision from the candidate patterns (with their actions) and the site's mode."""
    actions = {pattern: action for pattern, action in matches}
    best = best_match(domain, list(actions))
    if best is not None:
        outcome = APPROVED if actions[best] == DomainPattern.Action.APPROVE else REJECTED
        return Decision(outcome=outcome, basis=BASIS_PATTERN, pattern=best.text)
    if mode == Site.Mode.AUTOMATIC:
        outcome = APPROVED if other_domains == Site.OtherDomains.APPROVE else REJECTED
        return Decision(outcome=outcome, basis=BASIS_MODE)
    return Decision(outcome=PENDING, basis=BASIS_MODE)


def decide(*, site: Site, normalized_email: str) -> Decision:
    """Decide a new request for `normalized_email` on `site` with the site's saved settings."""
    domain = email_domain(normalized_email)
    rows = (
        DomainPattern.objects.filter(site=site, suffix__in=candidate_suffixes(domain))
        .only("suffix", "wildcard", "action")
        .order_by()  # precedence is decided below; the model's ordering would only add a sort
    )
    matches = [(row.as_pattern(), row.action) for row in rows]
    return decide_among(
        domain=domain, matches=matches, mode=site.mode, other_domains=site.other_domains
    )
