"""Render an outbox email from its templates, in the recipient's language."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.crypto import salted_hmac

from mail.models import OutboxEmail
from sites.domains import InvalidDomain, deliverable_email


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(*, kind: str, context: dict, language: str) -> RenderedEmail:
    """Render templates/emails/<kind>_subject.txt, <kind>.txt and <kind>.html."""
    full_context = {"site_url": settings.SITE_URL, **context}
    with translation.override(language):
        subject = render_to_string(f"emails/{kind}_subject.txt", full_context)
        text = render_to_string(f"emails/{kind}.txt", full_context)
        html = render_to_string(f"emails/{kind}.html", full_context)
    # A subject is one line whatever the data held: no header injection through it.
    subject = " ".join(subject.split())
    return RenderedEmail(subject=subject, text=text, html=html)


def message_id(email: OutboxEmail) -> str:
    """The same for every try of a row (a retry is the same message), and unique across
    installations: the key alone repeats from one database to the next (`request:1:…`), and
    mail stores drop a second message with a Message-ID they have seen."""
    digest = salted_hmac("mail.message-id", email.idempotency_key, algorithm="sha256")
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<{digest.hexdigest()[:40]}@{domain}>"


def _recipient(address: str) -> str:
    """Rows queued before recipients were stored as `deliverable_email` may hold a Unicode
    domain, which Django would encode the IDNA 2003 way (`faß.de` → `fass.de`)."""
    try:
        return deliverable_email(address)
    except InvalidDomain:
        return address


def build_message(email: OutboxEmail, connection=None) -> EmailMultiAlternatives:
    rendered = render_email(kind=email.kind, context=email.context, language=email.language)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[_recipient(email.to_email)],
        headers={
            "Message-ID": message_id(email),
            "Auto-Submitted": "auto-generated",
            "Content-Language": email.language,
        },
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
