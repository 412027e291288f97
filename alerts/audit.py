"""Writing the audit trail: every state change records who acted (or which rule) and what."""

from datetime import datetime

from alerts.models import AuditEvent
from orgs.models import User
from signup.models import SignupRequest
from sites.models import Site


def audit_fields(
    *,
    organization_id: int,
    action: str,
    actor: User | None = None,
    site: Site | None = None,
    request: SignupRequest | None = None,
    changes: dict | None = None,
) -> dict:
    """The fields of one audit event (for `AuditEvent(**...)` in bulk)."""
    return {
        "organization_id": organization_id,
        "site": site,
        "request": request,
        "actor": actor,
        "actor_label": actor.display_name if actor else "",
        "action": action,
        "changes": changes or {},
    }


def audit_record(*, at: datetime | None = None, **fields) -> AuditEvent:
    """Write one audit event; `actor` None means a rule of the site acted (see `changes`).
    `at` is the time of the change it records, when that was set on the row it changed."""
    event = AuditEvent(**audit_fields(**fields))
    if at is not None:
        event.created_at = at
    event.save(force_insert=True)
    return event
