"""Deciding requests (approve, reject) and recording the audit trail.

The hub, the Django admin and the automatic decisions of the sign-up flow all go through
`request_approve` / `request_reject` / `request_apply_decision`, which share one implementation of
each decision's effects.
"""

from django.db import transaction
from django.utils import timezone

from alerts.models import AuditEvent
from mail.models import EmailKind
from orgs.models import HostLicense, Person, User
from orgs.services import EmailInOtherOrganization, license_grant, person_get_or_create
from signup import emails
from signup.models import SignupRequest
from sites.decision import APPROVED, BASIS_MODE, PENDING, REJECTED, Decision
from sites.models import Site


class RequestNotPending(Exception):
    """The request was decided already (or still waits for its email confirmation)."""

    def __init__(self, request: SignupRequest):
        super().__init__(request.status)
        self.request = request


def audit_record(
    *,
    organization_id: int,
    action: str,
    actor: User | None = None,
    site: Site | None = None,
    request: SignupRequest | None = None,
    changes: dict | None = None,
) -> AuditEvent:
    """Write one audit event; `actor` None means a rule of the site acted (see `changes`)."""
    return AuditEvent.objects.create(
        organization_id=organization_id,
        site=site,
        request=request,
        actor=actor,
        actor_label=actor.display_name if actor else "",
        action=action,
        changes=changes or {},
    )


def _lock_pending(request_id: int) -> SignupRequest:
    req = (
        SignupRequest.objects.select_for_update(of=("self",))
        .select_related("site", "organization", "decided_by")
        .get(pk=request_id)
    )
    if req.status != SignupRequest.Status.PENDING:
        raise RequestNotPending(req)
    return req


def _close(
    req: SignupRequest, *, status: str, actor: User | None, decision: Decision | None
) -> None:
    req.status = status
    req.decided_at = timezone.now()
    req.decided_by = actor
    if actor is not None:
        req.decision_basis = SignupRequest.Basis.ADMINISTRATOR
        req.decision_pattern = ""
    elif decision is not None:
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


def _approve(req: SignupRequest, *, actor: User | None, decision: Decision | None) -> Person:
    """The effects of an approval: person, host license for this site only, audit, emails."""
    fields = req.fields | {"first_name": req.first_name, "last_name": req.last_name}
    person, person_created = person_get_or_create(
        organization=req.organization,
        email=req.email,
        fields=fields,
        source=Person.Source.SELF_SIGNUP,
        acting_user=actor,
        language=req.language,
    )
    _license, license_created = license_grant(
        person=person, site=req.site, source=HostLicense.Source.SELF_SIGNUP, acting_user=actor
    )
    _close(req, status=SignupRequest.Status.APPROVED, actor=actor, decision=decision)
    req.person = person
    req.save(update_fields=[*_CLOSE_FIELDS, "person"])
    audit_record(
        organization_id=req.organization_id,
        action=AuditEvent.Action.REQUEST_APPROVED,
        actor=actor,
        site=req.site,
        request=req,
        changes={
            "email": req.email,
            "basis": req.decision_basis,
            "pattern": req.decision_pattern,
            "person_created": person_created,
            "license_granted": license_created,
        },
    )
    emails.send_host_ready(req, person)
    if actor is None:
        emails.send_to_reviewers(req, EmailKind.ADMIN_NEW_HOST)
    return person


def _reject(
    req: SignupRequest, *, actor: User | None, decision: Decision | None, reason: str
) -> None:
    _close(req, status=SignupRequest.Status.REJECTED, actor=actor, decision=decision)
    req.rejection_reason = reason.strip()[:1000]
    req.save(update_fields=[*_CLOSE_FIELDS, "rejection_reason"])
    audit_record(
        organization_id=req.organization_id,
        action=AuditEvent.Action.REQUEST_REJECTED,
        actor=actor,
        site=req.site,
        request=req,
        changes={
            "email": req.email,
            "basis": req.decision_basis,
            "pattern": req.decision_pattern,
            "reason": req.rejection_reason,
        },
    )
    emails.send_declined(req)


def request_approve(*, request_id: int, acting_user: User) -> SignupRequest:
    """Approve a pending request. Raises RequestNotPending (nothing changed) when it is not
    pending any more, EmailInOtherOrganization (nothing changed) when the address is taken."""
    with transaction.atomic():
        req = _lock_pending(request_id)
        _approve(req, actor=acting_user, decision=None)
    return req


def request_reject(*, request_id: int, acting_user: User, reason: str = "") -> SignupRequest:
    """Reject a pending request, with an optional reason sent to the requester."""
    with transaction.atomic():
        req = _lock_pending(request_id)
        _reject(req, actor=acting_user, decision=None, reason=reason)
    return req


def request_apply_decision(*, req: SignupRequest, decision: Decision) -> None:
    """Apply the domain rules' decision to a request the caller has locked (or just created).

    Approvals and rejections have the same effects as an administrator's; a request left
    pending enters the queue and its reviewers are told.
    """
    if decision.outcome == APPROVED:
        try:
            with transaction.atomic():
                _approve(req, actor=None, decision=decision)
            return
        except EmailInOtherOrganization:
            # The address joined another organization meanwhile: an administrator must look.
            decision = Decision(outcome=PENDING, basis=BASIS_MODE)
    elif decision.outcome == REJECTED:
        _reject(req, actor=None, decision=decision, reason="")
        return
    req.status = SignupRequest.Status.PENDING
    req.decision_basis = decision.basis
    req.decision_pattern = decision.pattern
    req.save(update_fields=["status", "decision_basis", "decision_pattern", "updated_at"])
    emails.send_received(req, cause=f"request:{req.pk}:pending")
    emails.send_to_reviewers(req, EmailKind.ADMIN_NEW_REQUEST)
