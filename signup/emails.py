"""The emails of the sign-up flow, each queued through the outbox with the context it needs.

Contexts hold plain strings (they are stored as JSON); links are absolute, built from SITE_URL.
"""

from django.conf import settings
from django.urls import reverse

from mail.models import EmailKind
from mail.services import email_queue
from orgs.models import Person
from orgs.selectors import review_recipients
from signup.models import SignupRequest
from signup.tokens import activation_token, confirmation_token, new_nonce
from sites.models import Site


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def site_link(site: Site, name: str, **kwargs: object) -> str:
    return absolute(reverse(f"signup:{name}", kwargs={"slug": site.slug, **kwargs}))


def _requester_context(req: SignupRequest) -> dict:
    return {
        "site_name": req.site.name,
        "site_url": site_link(req.site, "home"),
        "first_name": req.first_name,
        "email": req.email,
    }


def _to_requester(req: SignupRequest, kind: str, cause: str, **extra: object) -> None:
    email_queue(
        kind=kind,
        to=req.email,
        context=_requester_context(req) | extra,
        language=req.language,
        cause=cause,
        organization_id=req.organization_id,
        request_id=req.pk,
    )


def send_confirmation(req: SignupRequest, *, cause: str) -> None:
    link = site_link(
        req.site,
        "confirm",
        token=confirmation_token(request_id=req.pk, nonce=req.confirmation_nonce),
    )
    _to_requester(req, EmailKind.CONFIRM_EMAIL, cause, confirm_url=link)


def send_received(req: SignupRequest, *, cause: str) -> None:
    _to_requester(req, EmailKind.REQUEST_RECEIVED, cause)


def send_declined(req: SignupRequest) -> None:
    _to_requester(
        req, EmailKind.REQUEST_DECLINED, f"request:{req.pk}:rejected", reason=req.rejection_reason
    )


def send_host_ready(req: SignupRequest, person: Person) -> None:
    """Activation link for a person without a login yet, the sign-in link otherwise."""
    extra: dict[str, object] = {"signin_url": site_link(req.site, "signin")}
    if person.user_id is None:
        if not person.activation_nonce:
            person.activation_nonce = new_nonce()
            person.save(update_fields=["activation_nonce"])
        token = activation_token(
            person_id=person.pk, site_id=req.site_id, nonce=person.activation_nonce
        )
        extra["activate_url"] = site_link(req.site, "activate", token=token)
    _to_requester(req, EmailKind.HOST_READY, f"request:{req.pk}:approved", **extra)


def send_to_reviewers(req: SignupRequest, kind: str) -> None:
    """The administrators' email about a request: new in the queue, or a host just created."""
    context = {
        "site_name": req.site.name,
        "requester_name": req.display_name,
        "requester_email": req.email,
        "request_url": absolute(f"/hub/alerts/requests/{req.pk}/"),
        "queue_url": absolute("/hub/alerts/requests/"),
    }
    for recipient in review_recipients(req.site):
        email_queue(
            kind=kind,
            to=recipient.email,
            context=context,
            language=recipient.language,
            cause=f"request:{req.pk}:review",
            organization_id=req.organization_id,
            request_id=req.pk,
        )


def send_to_address(
    *, site: Site, to: str, kind: str, language: str, cause: str, first_name: str = ""
) -> None:
    """An email about a submission that made no request (an existing host, another org)."""
    email_queue(
        kind=kind,
        to=to,
        context={
            "site_name": site.name,
            "site_url": site_link(site, "home"),
            "signin_url": site_link(site, "signin"),
            "first_name": first_name,
            "email": to,
        },
        language=language,
        cause=cause,
        organization_id=site.organization_id,
    )
