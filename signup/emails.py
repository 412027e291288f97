"""The emails of the sign-up flow: each function returns the outbox entries for one event.

Contexts hold plain strings (they are stored as JSON); links are absolute, built from SITE_URL,
and carry the email's language (`?lang=fr`), so that the page a link opens speaks it too
(`selfsignup.locale.LocaleMiddleware`), even in a browser that asks for another.
Callers queue the entries with `mail.services.email_queue_many`, in the transaction of the change.
Every recipient goes through `deliverable_email`: the domain the rules matched is the one mailed.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from mail.models import EmailKind
from mail.services import EmailSpec
from orgs.models import Person
from orgs.selectors import Recipient
from selfsignup.locale import LINK_LANGUAGE_PARAMETER
from signup.models import SignupRequest
from signup.tokens import activation_token, confirmation_token
from sites.domains import deliverable_email, display_email
from sites.models import Site


def absolute(path: str, language: str) -> str:
    return f"{settings.SITE_URL}{path}?{urlencode({LINK_LANGUAGE_PARAMETER: language})}"


def site_link(site: Site, name: str, language: str, **kwargs: object) -> str:
    return absolute(reverse(f"signup:{name}", kwargs={"slug": site.slug, **kwargs}), language)


def _to_requester(req: SignupRequest, kind: str, cause: str, **extra: object) -> EmailSpec:
    context = {
        "site_name": req.site.name,
        "site_url": site_link(req.site, "home", req.language),
        # Anyone may type any address and any name into the form: the name goes into emails
        # to the address only once its owner confirmed the request, or our sender would
        # carry a stranger's text ("Your account is locked: go to ...") to any mailbox.
        "first_name": req.first_name if req.confirmed_at else "",
        "email": req.email,
        **extra,
    }
    to = deliverable_email(req.email)
    return EmailSpec(kind, to, context, req.language, cause, req.organization_id, req.pk)


def confirmation(req: SignupRequest, *, cause: str) -> EmailSpec:
    token = confirmation_token(request_id=req.pk, nonce=req.confirmation_nonce)
    link = site_link(req.site, "confirm", req.language, token=token)
    return _to_requester(req, EmailKind.CONFIRM_EMAIL, cause, confirm_url=link)


def received(req: SignupRequest, *, cause: str) -> EmailSpec:
    return _to_requester(req, EmailKind.REQUEST_RECEIVED, cause)


def declined(req: SignupRequest) -> EmailSpec:
    return _to_requester(
        req, EmailKind.REQUEST_DECLINED, f"request:{req.pk}:rejected", reason=req.rejection_reason
    )


def host_ready(req: SignupRequest, person: Person) -> EmailSpec:
    """Activation link for a person without a login (their activation nonce must be set),
    the sign-in link otherwise."""
    extra: dict[str, object] = {"signin_url": site_link(req.site, "signin", req.language)}
    if person.user_id is None:
        token = activation_token(
            person_id=person.pk, site_id=req.site_id, nonce=person.activation_nonce
        )
        extra["activate_url"] = site_link(req.site, "activate", req.language, token=token)
    return _to_requester(req, EmailKind.HOST_READY, f"request:{req.pk}:approved", **extra)


def to_reviewers(req: SignupRequest, kind: str, recipients: list[Recipient]) -> list[EmailSpec]:
    """The administrators' email about a request: new in the queue, or a host just created."""
    context = {
        "site_name": req.site.name,
        # Empty when the form asked for no name: the emails then give the address once.
        "requester_name": f"{req.first_name} {req.last_name}".strip(),
        "requester_email": display_email(req.email),
    }
    request_path = reverse("hub:request_detail", kwargs={"pk": req.pk})
    queue_path = reverse("hub:requests")
    cause, org_id = f"request:{req.pk}:review", req.organization_id
    return [
        EmailSpec(
            kind,
            deliverable_email(r.email),
            {
                **context,
                "request_url": absolute(request_path, r.language),
                "queue_url": absolute(queue_path, r.language),
            },
            r.language,
            cause,
            org_id,
            req.pk,
        )
        for r in recipients
    ]


def already_host(*, site: Site, person: Person, to: str, language: str, cause: str) -> EmailSpec:
    """The email about a sign-up that made no request because the address is a host's: the
    sign-in link, and an activation link while the person has no login (their first one
    expired or was lost; their activation nonce must be set). Anyone may ask for it to be sent
    to a host's address: it greets nobody by name (neither the one typed into the form nor the
    directory's, which a sign-up approved without confirmation took from its form)."""
    context = {
        "site_name": site.name,
        "site_url": site_link(site, "home", language),
        "signin_url": site_link(site, "signin", language),
        "first_name": "",
        "email": to,
    }
    if person.user_id is None:
        token = activation_token(
            person_id=person.pk, site_id=site.pk, nonce=person.activation_nonce
        )
        context["activate_url"] = site_link(site, "activate", language, token=token)
    kind = EmailKind.ALREADY_HOST
    return EmailSpec(kind, deliverable_email(to), context, language, cause, site.organization_id)


def host_added(*, person: Person, site: Site, added_by: str) -> EmailSpec:
    """A person an administrator added by hand, with a license on `site`: the activation link
    while they have no login (their activation nonce must be set), the sign-in link otherwise."""
    organization = site.organization
    language = organization.language
    context: dict[str, object] = {
        "site_name": site.name,
        "site_url": site_link(site, "home", language),
        "signin_url": site_link(site, "signin", language),
        "first_name": person.first_name,
        "email": person.email,
        "added_by": added_by,
        "organization_name": organization.name,
    }
    if person.user_id is None:
        token = activation_token(
            person_id=person.pk, site_id=site.pk, nonce=person.activation_nonce
        )
        context["activate_url"] = site_link(site, "activate", language, token=token)
    return EmailSpec(
        EmailKind.HOST_READY,
        deliverable_email(person.email),
        context,
        language,
        f"person:{person.pk}:added",
        organization.pk,
    )
