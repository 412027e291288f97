"""Deciding requests (approve, reject, one or many) and recording the audit trail.

The hub, the Django admin and the automatic decisions of the sign-up flow all go through one
implementation of each decision's effects, `_approve_batch` and `_reject_batch`, which work on a
batch of locked requests with a fixed number of statements per batch.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.audit import audit_fields
from alerts.models import AuditEvent
from mail.models import EmailKind
from mail.services import EmailSpec, email_queue_many
from orgs.models import HostLicense, Person, User
from orgs.selectors import review_recipients
from orgs.services import (
    EmailInOtherOrganization,
    administrators_elsewhere,
    person_get_or_create,
    profile_from_fields,
)
from selfsignup.moments import moment
from selfsignup.queueing import enqueue
from signup import emails
from signup.models import SignupRequest
from signup.tokens import new_nonce
from sites.decision import APPROVED, BASIS_HELD, PENDING, REJECTED, Decision
from sites.models import Site

BATCH_SIZE = 500


class NotApprovable(Exception):
    """The request can't be approved (nothing changed); the message says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RequestNotPending(Exception):
    """The request was decided already (or still waits for its email confirmation)."""

    def __init__(self, request: SignupRequest):
        super().__init__(request.status)
        self.request = request

    @property
    def message(self) -> str:
        return not_pending_message(self.request)


def not_pending_message(req: SignupRequest) -> str:
    """“Already approved by Ana Admin at 10:42”, or why the request can't be decided."""
    if req.status == SignupRequest.Status.UNCONFIRMED:
        return _("This request waits for its email address to be confirmed.")
    values = {"who": req.decider_label, "when": moment(req.decided_at)}
    if req.status == SignupRequest.Status.APPROVED:
        return _("Already approved by %(who)s at %(when)s") % values
    return _("Already rejected by %(who)s at %(when)s") % values


def other_organization_message() -> str:
    return _(
        "This address belongs to a person of another organization, so it can't be approved "
        "here. The request stays pending."
    )


@dataclass(frozen=True)
class Outcome:
    """What happened to one request of a bulk decision."""

    request_id: int
    ok: bool
    message: str
    request: SignupRequest | None = None


def _record_decisions(
    reqs: list[SignupRequest],
    action: str,
    actor: User | None,
    details: Callable[[SignupRequest], dict],
) -> None:
    """One audit event per decided request, in one statement."""
    AuditEvent.objects.bulk_create(
        AuditEvent(
            **audit_fields(
                organization_id=req.organization_id,
                action=action,
                actor=actor,
                site=req.site,
                request=req,
                changes={
                    "email": req.email,
                    "basis": req.decision_basis,
                    "pattern": req.decision_pattern,
                    **details(req),
                },
            )
        )
        for req in reqs
    )


def _close(req: SignupRequest, status: str, actor: User | None, decision: Decision | None):
    req.status = status
    req.decided_at = req.updated_at = timezone.now()
    req.decided_by = actor
    if actor is not None or decision is None:
        req.decision_basis = SignupRequest.Basis.ADMINISTRATOR
        req.decision_pattern = ""
    else:
        req.decision_basis = decision.basis
        req.decision_pattern = decision.pattern


_CLOSE_FIELDS = [
    "status",
    "decided_at",
    "decided_by",
    "decision_basis",
    "decision_pattern",
    "updated_at",
]


def _people_for(
    reqs: list[SignupRequest], actor: User | None
) -> tuple[dict[str, Person], set[str], dict[int, str]]:
    """The person of each request's address, found (locked) or created for self-sign-up.

    Returns persons by normalized email, the emails whose person was created, and the requests
    that can't be approved because their address is another organization's."""
    # Another organization's administrator's address is that organization's: no person here.
    admins = administrators_elsewhere(r.email_normalized for r in reqs)
    theirs = {r.pk for r in reqs if admins.get(r.email_normalized, set()) - {r.organization_id}}
    if theirs:
        people, created, errors = _people_for([r for r in reqs if r.pk not in theirs], actor)
        return people, created, errors | dict.fromkeys(theirs, other_organization_message())
    # People are locked, and created, in address order: two batches holding the same new
    # addresses in other orders would each wait for the other's (deadlock).
    people = {
        p.email_normalized: p
        for p in Person.objects.select_for_update()
        .filter(email_normalized__in={r.email_normalized for r in reqs})
        .order_by("email_normalized")
    }
    missing: dict[str, SignupRequest] = {}
    for req in reqs:
        # An operator's batch may hold one address on sites of two organizations: the first
        # request decides which organization the new person joins.
        if req.email_normalized not in people:
            missing.setdefault(req.email_normalized, req)
    to_create = [missing[email] for email in sorted(missing)]
    new, created = _create_people(to_create, actor) if missing else ({}, set())
    people |= new
    # Checked after the creations, which can make the address another organization's.
    errors = {r.pk: other_organization_message() for r in reqs if _is_elsewhere(r, people)}
    # Another organization's person is left exactly as it is.
    approved = dict.fromkeys(r.email_normalized for r in reqs if r.pk not in errors)
    people_link_or_invite([people[email] for email in approved])
    return people, created, errors


def _is_elsewhere(req: SignupRequest, people: dict[str, Person]) -> bool:
    """Whether the request's address is (or, lost to a race, became) another organization's."""
    person = people.get(req.email_normalized)
    return person is None or person.organization_id != req.organization_id


def people_link_or_invite(people: Iterable[Person]) -> None:
    """A person without a login whose address has one by now (an administrator's, say) is
    linked to it and told to sign in; the others get an activation link."""
    without_login = [p for p in people if p.user_id is None]
    users = _users_by_email([p.email_normalized for p in without_login])
    for person in without_login:
        if person.email_normalized in users:
            person.user_id, person.activation_nonce = users[person.email_normalized], ""
        elif not person.activation_nonce:
            person.activation_nonce = new_nonce()
    Person.objects.bulk_update(without_login, ["user", "activation_nonce"])


def _users_by_email(emails: list[str]) -> dict[str, int]:
    """Logins by normalized address (logins are stored normalized)."""
    if not emails:
        return {}
    return dict(User.objects.filter(email__in=emails).values_list("email", "pk"))


def _create_people(
    reqs: list[SignupRequest], actor: User | None
) -> tuple[dict[str, Person], set[str]]:
    """A person for each request (one per address) in the request's organization; returns them
    by normalized email and the emails whose person this created."""
    users = _users_by_email([r.email_normalized for r in reqs])
    new = [
        Person(
            organization_id=r.organization_id,
            email=r.email,
            email_normalized=r.email_normalized,
            first_name=r.first_name,
            last_name=r.last_name,
            profile=profile_from_fields(r.fields),
            language=r.language,
            source=Person.Source.SELF_SIGNUP,
            created_by=actor,
            user_id=users.get(r.email_normalized),
            activation_nonce=new_nonce(),
        )
        for r in reqs
    ]
    try:
        with transaction.atomic():
            Person.objects.bulk_create(new)
    except IntegrityError:
        return _get_or_create_people(reqs, actor)
    return {p.email_normalized: p for p in new}, {p.email_normalized for p in new}


def _get_or_create_people(
    reqs: list[SignupRequest], actor: User | None
) -> tuple[dict[str, Person], set[str]]:
    """Someone created some of them a moment ago: one at a time, taking theirs. An address
    another organization took is left out, so that `_people_for` refuses its request instead
    of failing the whole batch."""
    found: dict[str, Person] = {}
    created: set[str] = set()
    for r in reqs:
        try:
            person, is_new = person_get_or_create(
                organization=r.organization,
                email=r.email,
                fields=r.fields | {"first_name": r.first_name, "last_name": r.last_name},
                source=Person.Source.SELF_SIGNUP,
                acting_user=actor,
                language=r.language,
            )
        except EmailInOtherOrganization:
            continue
        found[r.email_normalized] = person
        if is_new:
            created.add(r.email_normalized)
    return found, created


def _grant_licenses(reqs: list[SignupRequest], people: dict[str, Person], actor: User | None):
    # The rule of orgs.services.licenses_grant, checked here too since this path bypasses it.
    if any(people[r.email_normalized].organization_id != r.site.organization_id for r in reqs):
        raise ValueError("a license is only granted on a site of the person's organization")
    held = set(
        HostLicense.objects.filter(
            person__in=[people[r.email_normalized] for r in reqs],
            site_id__in={r.site_id for r in reqs},
        ).values_list("person_id", "site_id")
    )
    HostLicense.objects.bulk_create(
        [
            HostLicense(
                person=people[r.email_normalized],
                site_id=r.site_id,
                source=HostLicense.Source.SELF_SIGNUP,
                granted_by=actor,
            )
            for r in reqs
            if (people[r.email_normalized].pk, r.site_id) not in held
        ],
        ignore_conflicts=True,
    )
    return held


def _reviewer_emails(reqs: Iterable[SignupRequest], kind: str) -> list[EmailSpec]:
    recipients: dict[int, list] = {}
    specs = []
    for req in reqs:
        if req.site_id not in recipients:
            recipients[req.site_id] = review_recipients(req.site)
        specs += emails.to_reviewers(req, kind, recipients[req.site_id])
    return specs


def _approve_batch(
    reqs: list[SignupRequest], *, actor: User | None, decisions: dict[int, Decision] | None
) -> dict[int, str]:
    """Approve locked pending requests: person (created without the automatic license
    template), a host license for the request's site only, audit, emails. Returns the requests
    that could not be approved, with why; those are left unchanged."""
    # A site that became SSO or government after the request came in grants nothing by
    # self-sign-up: an activation link would be a password around its single sign-on.
    errors = {r.pk: r.site.unsupported_reason for r in reqs if not r.site.signup_supported}
    people, created, elsewhere = _people_for([r for r in reqs if r.pk not in errors], actor)
    errors |= elsewhere
    approved = [r for r in reqs if r.pk not in errors]
    if not approved:
        return errors
    held = _grant_licenses(approved, people, actor)
    for req in approved:
        _close(req, SignupRequest.Status.APPROVED, actor, (decisions or {}).get(req.pk))
        req.person = people[req.email_normalized]
    SignupRequest.objects.bulk_update(approved, [*_CLOSE_FIELDS, "person"])
    _record_decisions(
        approved,
        AuditEvent.Action.REQUEST_APPROVED,
        actor,
        lambda req: {
            "person_created": req.email_normalized in created,
            "license_granted": (req.person.pk, req.site_id) not in held,
        },
    )
    specs = [emails.host_ready(req, req.person) for req in approved]
    if actor is None:
        specs += _reviewer_emails(approved, EmailKind.ADMIN_NEW_HOST)
    email_queue_many(specs)
    return errors


def _reject_batch(
    reqs: list[SignupRequest],
    *,
    actor: User | None,
    decisions: dict[int, Decision] | None,
    reason: str,
) -> None:
    """Reject locked pending requests: status, reason, audit, the declined email."""
    for req in reqs:
        _close(req, SignupRequest.Status.REJECTED, actor, (decisions or {}).get(req.pk))
        req.rejection_reason = reason.strip()[:1000]
    SignupRequest.objects.bulk_update(reqs, [*_CLOSE_FIELDS, "rejection_reason"])
    _record_decisions(
        reqs,
        AuditEvent.Action.REQUEST_REJECTED,
        actor,
        lambda req: {"reason": req.rejection_reason},
    )
    email_queue_many([emails.declined(req) for req in reqs])


def _lock(ids: list[int]) -> list[SignupRequest]:
    """Lock requests in id order (so that concurrent batches never deadlock).

    `decided_by` is not joined here: after waiting for another transaction's lock, PostgreSQL
    re-reads the locked row but not the rows it joined, which would miss the new decider."""
    return list(
        SignupRequest.objects.select_for_update(of=("self",))
        .select_related("site", "organization")
        .filter(pk__in=ids)
        .order_by("pk")
    )


def _lock_pending(request_id: int) -> SignupRequest:
    (req,) = _lock([request_id]) or [None]
    if req is None:
        raise SignupRequest.DoesNotExist(request_id)
    if req.status != SignupRequest.Status.PENDING:
        raise RequestNotPending(req)
    return req


def request_approve(*, request_id: int, acting_user: User) -> SignupRequest:
    """Approve a pending request. Raises RequestNotPending (nothing changed) when it is not
    pending any more, NotApprovable (nothing changed) when the address is another
    organization's or the site no longer supports self-sign-up."""
    with transaction.atomic():
        req = _lock_pending(request_id)
        errors = _approve_batch([req], actor=acting_user, decisions=None)
        if errors:
            raise NotApprovable(errors[req.pk])
    return req


def request_reject(*, request_id: int, acting_user: User, reason: str = "") -> SignupRequest:
    """Reject a pending request, with an optional reason sent to the requester."""
    with transaction.atomic():
        req = _lock_pending(request_id)
        _reject_batch([req], actor=acting_user, decisions=None, reason=reason)
    return req


def requests_decide_bulk(
    *, request_ids: list[int], acting_user: User, approve: bool, reason: str = ""
) -> list[Outcome]:
    """Approve or reject many requests, in batches; say per request what happened.

    Requests not pending any more are left as they are and reported, never decided twice."""
    ids = list(dict.fromkeys(request_ids))
    outcomes: dict[int, Outcome] = {}
    done = _("Approved") if approve else _("Rejected")
    for start in range(0, len(ids), BATCH_SIZE):
        with transaction.atomic():
            reqs = _lock(ids[start : start + BATCH_SIZE])
            pending = [r for r in reqs if r.status == SignupRequest.Status.PENDING]
            for req in reqs:
                if req.status != SignupRequest.Status.PENDING:
                    outcomes[req.pk] = Outcome(req.pk, False, not_pending_message(req), req)
            errors = {}
            if approve:
                errors = _approve_batch(pending, actor=acting_user, decisions=None)
            elif pending:
                _reject_batch(pending, actor=acting_user, decisions=None, reason=reason)
            for req in pending:
                message = errors.get(req.pk, done)
                outcomes[req.pk] = Outcome(req.pk, req.pk not in errors, message, req)
    return [outcomes.get(pk) or Outcome(pk, False, _("Request not found.")) for pk in ids]


def _rules_decisions(site: Site, reqs: list[SignupRequest]) -> dict[int, Decision]:
    """What the site's rules decide for each request, by id (one lookup per email domain)."""
    from sites.decision import decide

    by_domain: dict[str, Decision] = {}
    decisions = {}
    for req in reqs:
        domain = req.email_normalized.rpartition("@")[2]
        if domain not in by_domain:
            by_domain[domain] = decide(site=site, normalized_email=req.email_normalized)
        decisions[req.pk] = by_domain[domain]
    return decisions


def _record_pending_basis(reqs: list[SignupRequest], decisions: dict[int, Decision]) -> None:
    """Pending requests say what the rules make of them: held, naming the rule, when the rules
    approve an address no approval can take (another organization's, or a site no longer
    supporting sign-up); otherwise the rules' own basis, so none names a rule that is gone."""
    now = timezone.now()
    for req in reqs:
        decision = decisions[req.pk]
        req.decision_basis = BASIS_HELD if decision.outcome == APPROVED else decision.basis
        req.decision_pattern = decision.pattern
        req.updated_at = now
    if reqs:
        fields = ["decision_basis", "decision_pattern", "updated_at"]
        SignupRequest.objects.bulk_update(reqs, fields)


def held_requests_refresh(*, site: Site) -> None:
    """After new rules are saved (the caller holds the site): held requests say what the new
    rules make of them. Nothing is decided here (that is "decide the pending requests")."""
    held = list(
        SignupRequest.objects.select_for_update().filter(
            site=site, status=SignupRequest.Status.PENDING, decision_basis=BASIS_HELD
        )
    )
    _record_pending_basis(held, _rules_decisions(site, held))


def request_apply_decision(*, req: SignupRequest, decision: Decision) -> None:
    """Apply the domain rules' decision to a request the caller has locked (or just created).

    Approvals and rejections have the same effects as an administrator's; a request left
    pending enters the queue and its reviewers are told."""
    decisions = {req.pk: decision}
    if decision.outcome == APPROVED:
        if not _approve_batch([req], actor=None, decisions=decisions):
            return
        # The address is another organization's, or the site turned SSO or government: an
        # administrator must look, and the request says which rule approved it.
        decision = Decision(outcome=PENDING, basis=BASIS_HELD, pattern=decision.pattern)
    elif decision.outcome == REJECTED:
        _reject_batch([req], actor=None, decisions=decisions, reason="")
        return
    req.status = SignupRequest.Status.PENDING
    req.decision_basis = decision.basis
    req.decision_pattern = decision.pattern
    req.save(update_fields=["status", "decision_basis", "decision_pattern", "updated_at"])
    email_queue_many(
        [
            emails.received(req, cause=f"request:{req.pk}:pending"),
            *_reviewer_emails([req], EmailKind.ADMIN_NEW_REQUEST),
        ]
    )


def requests_apply_rules_requested(*, site_id: int) -> int:
    """Carry out an administrator's wish that the saved rules decide the pending requests, then
    clear it (unless it was asked for again meanwhile); return how many were decided."""
    requested_at = (
        Site.objects.filter(pk=site_id).values_list("rules_apply_requested_at", flat=True).first()
    )
    if requested_at is None:
        return 0  # done already (a sweep published it again), or the site is gone
    decided = requests_apply_rules(site_id=site_id, requested_at=requested_at)
    Site.objects.filter(pk=site_id, rules_apply_requested_at=requested_at).update(
        rules_apply_requested_at=None
    )
    return decided


def rules_sweep() -> int:
    """Publish a rule run for each site whose wish has waited longer than a run takes to start;
    return how many. A run still working on a big site is published again: the new time of the
    wish stops the older run at its next batch, and the new one carries on (runs lock the
    requests they decide, so each is decided once)."""
    from alerts.tasks import apply_rules_to_pending

    now = timezone.now()
    stale = now - timedelta(seconds=settings.RULES_SWEEP_AFTER_SECONDS)
    with transaction.atomic():
        site_ids = list(
            Site.objects.select_for_update(skip_locked=True)
            .filter(rules_apply_requested_at__lt=stale)
            .values_list("pk", flat=True)
        )
        # Published again at most once a period, not at every sweep while no worker runs.
        Site.objects.filter(pk__in=site_ids).update(rules_apply_requested_at=now)
    for site_id in site_ids:
        enqueue(apply_rules_to_pending, site_id)
    return len(site_ids)


def requests_apply_rules(*, site_id: int, requested_at: datetime | None = None) -> int:
    """Decide a site's pending requests by its current rules, in batches; return how many
    were decided. Used when an administrator saves rules and chooses to apply them.

    Each batch holds the site row, so that its rules can't change while it decides. With
    `requested_at`, the run stops at the first batch that finds the wish withdrawn (new rules
    saved with "keep") or made again (a later run carries on)."""
    decided, last_id = 0, 0
    while True:
        with transaction.atomic():
            site = Site.objects.select_for_update(no_key=True).filter(pk=site_id).first()
            if site is None:
                return decided
            if requested_at is not None and site.rules_apply_requested_at != requested_at:
                return decided
            ids = list(
                SignupRequest.objects.filter(
                    site_id=site_id, status=SignupRequest.Status.PENDING, pk__gt=last_id
                )
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH_SIZE]
            )
            if not ids:
                return decided
            last_id = ids[-1]
            reqs = [r for r in _lock(ids) if r.status == SignupRequest.Status.PENDING]
            decisions = _rules_decisions(site, reqs)
            approve = [r for r in reqs if decisions[r.pk].outcome == APPROVED]
            reject = [r for r in reqs if decisions[r.pk].outcome == REJECTED]
            errors = _approve_batch(approve, actor=None, decisions=decisions) if approve else {}
            if reject:
                _reject_batch(reject, actor=None, decisions=decisions, reason="")
            refused = [r for r in approve if r.pk in errors]
            stale = [
                r
                for r in reqs
                if decisions[r.pk].outcome == PENDING and r.decision_basis == BASIS_HELD
            ]
            _record_pending_basis(refused + stale, decisions)
            decided += len(approve) - len(errors) + len(reject)
