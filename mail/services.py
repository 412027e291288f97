"""The outbox: queue an email with the change that causes it; deliver it once, retrying."""

import hashlib
import logging
import random
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from mail import handover, transport
from mail.models import OutboxEmail
from mail.rendering import build_message
from selfsignup.queueing import backoff_delay, enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)


# What the sweep writes as a row's last error: stored in English like the mail server's own
# errors, and shown translated (the request page translates the text when the catalog has it).
HANDED_OVER_BEFORE_STOP = gettext_noop(
    "The worker stopped after handing the message to the mail server; it was not sent again."
)
STOPPED_WHILE_SENDING = gettext_noop("The worker stopped while sending; tried again.")
STOPPED_ON_EVERY_TRY = gettext_noop(
    "The worker stopped while sending, on every try; it was not tried again."
)
NO_ANSWER_TWICE = gettext_noop(
    "The mail server did not answer the whole message, twice: it may have it. Send it again "
    "only if it did not arrive."
)
# A row is claimed only once its next try is due (give or take a clock difference between
# hosts), so a delivery message that comes again early can't use up the tries and the backoff.
CLAIM_CLOCK_SLACK = timedelta(seconds=2)

IDEMPOTENCY_KEY_LENGTH = OutboxEmail._meta.get_field("idempotency_key").max_length


@dataclass(frozen=True)
class EmailSpec:
    """One email to queue: `cause` names what made it (a request's approval, a submission...).

    The same cause, kind and recipient give the same outbox row, so queueing twice never sends
    twice."""

    kind: str
    to: str
    context: dict
    language: str
    cause: str
    organization_id: int | None = None
    request_id: int | None = None

    @property
    def idempotency_key(self) -> str:
        full = f"{self.cause}:{self.kind}:{self.to.lower()}"
        # The address goes in as a digest, never as typed text. The key names the request,
        # site or person by id: it never leaves the database (the Message-ID is a digest of it).
        key = f"{self.cause}:{self.kind}:{_digest(self.to.lower())}"
        fits = max(len(full), len(key)) <= IDEMPOTENCY_KEY_LENGTH
        if fits and key.isascii() and key.isprintable():
            return key
        # Cutting a long key could drop what tells two emails apart: the kind, then a digest
        # (the form long keys always had, so rows queued before keep matching).
        return f"{self.kind}:{_digest(full)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def email_queue_many(specs: list[EmailSpec]) -> list[OutboxEmail]:
    """Write outbox rows in the caller's transaction; delivery is enqueued after commit.

    Rows that exist already (same idempotency key) are kept as they are."""
    if not specs:
        return []
    OutboxEmail.objects.bulk_create(
        [
            OutboxEmail(
                idempotency_key=spec.idempotency_key,
                kind=spec.kind,
                to_email=spec.to,
                context=spec.context,
                language=spec.language,
                organization_id=spec.organization_id,
                request_id=spec.request_id,
            )
            for spec in specs
        ],
        ignore_conflicts=True,
    )
    emails = list(
        OutboxEmail.objects.filter(idempotency_key__in=[spec.idempotency_key for spec in specs])
    )
    deliver_after_commit([e.pk for e in emails if e.status == OutboxEmail.Status.QUEUED])
    return emails


DELIVERY_BATCH = 25


def _batches(email_ids: list[int]) -> list[list[int]]:
    """The ids a few to a delivery message."""
    return [email_ids[i : i + DELIVERY_BATCH] for i in range(0, len(email_ids), DELIVERY_BATCH)]


def deliver_after_commit(email_ids: list[int]) -> None:
    """Enqueue delivery of these rows once the transaction commits, a few to a message."""
    from mail.tasks import deliver_email, deliver_emails

    for batch in _batches(email_ids):
        if len(batch) == 1:
            enqueue_on_commit(deliver_email, batch[0])
        else:
            enqueue_on_commit(deliver_emails, batch)


def email_queue(
    *,
    kind: str,
    to: str,
    context: dict,
    language: str,
    cause: str,
    organization_id: int | None = None,
    request_id: int | None = None,
) -> OutboxEmail:
    """Queue one email (see `email_queue_many`)."""
    spec = EmailSpec(kind, to, context, language, cause, organization_id, request_id)
    return email_queue_many([spec])[0]


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str  # sent, failed, retry or skipped
    retry_in: float | None = None


SKIPPED = DeliveryOutcome("skipped")


# A try starts with no hand-over: one left by an earlier try (answered with a refusal) would
# make this try count as sent whatever happens to it.
_CLAIM_SQL = (
    "UPDATE {table} SET status = %s, attempts = attempts + 1, sending_started_at = %s, "
    "handed_over_at = NULL, updated_at = %s "
    "WHERE id = %s AND status = %s AND next_attempt_at <= %s RETURNING *"
)


def _claim(email_id: int) -> OutboxEmail | None:
    """Mark the row sending if it is queued, in one committed statement; None if it was not.

    Of two workers claiming the same row, the second waits for the first's commit, then finds
    the row no longer queued."""
    now = timezone.now()
    sql = _CLAIM_SQL.format(table=OutboxEmail._meta.db_table)
    due = now + CLAIM_CLOCK_SLACK
    params = [OutboxEmail.Status.SENDING, now, now, email_id, OutboxEmail.Status.QUEUED, due]
    claimed = list(OutboxEmail.objects.raw(sql, params))
    return claimed[0] if claimed else None


def is_permanent_failure(exc: BaseException) -> bool:
    """A 5xx answer about the message or its recipients won't change by trying again. One
    about us (the greeting, HELO, authentication, the sender address: the relay's
    configuration, which an operator fixes) would fail every email alike: keep trying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # 5.7.x at RCPT is a policy refusal, most often of us ("Relay access denied"): retried.
        return all(
            code >= 500 and not _enhanced_status(msg).startswith("5.7.")
            for code, msg in exc.recipients.values()
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def _enhanced_status(message: bytes | str) -> str:
    """The RFC 3463 status code a reply text starts with ("5.1.1"), or ""."""
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    return first if first[:2] in ("4.", "5.") else ""


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter on top, capped at an hour."""
    base = backoff_delay(settings.OUTBOX_RETRY_BASE_SECONDS, attempts)
    return min(base + random.uniform(0, settings.OUTBOX_RETRY_BASE_SECONDS), 3600.0)  # noqa: S311


def _finish(email: OutboxEmail, status: str, error: str = "", retry_in: float = 0.0) -> None:
    """Record the end of a try, unless a sweep already took the row back."""
    changes: dict[str, object] = {
        "status": status,
        "last_error": error[:2000],
        "updated_at": timezone.now(),
    }
    if status == OutboxEmail.Status.SENT:
        changes["sent_at"] = timezone.now()
    if status == OutboxEmail.Status.QUEUED:
        changes["next_attempt_at"] = timezone.now() + timedelta(seconds=retry_in)
    OutboxEmail.objects.filter(pk=email.pk, status=OutboxEmail.Status.SENDING).update(**changes)


def _mark_handed_over(email: OutboxEmail) -> Callable[..., None]:
    """Record that the server is about to have the whole message; return what to call once the
    final dot is written (or could not be). The mark is sent before the dot and its answer read
    after it (mail.handover); it commits at once (autocommit), so it survives the worker dying a
    moment later. This try counts as handed over once the dot is written, whatever became of
    the mark: a mark that went unanswered is made again through the caller's connection, and
    one made for a dot that never left is taken back."""
    now = timezone.now()
    answer = handover.mark_sent_async(
        handover.handed_over_sql(), [now, email.pk, OutboxEmail.Status.SENDING.value]
    )
    if answer is None:
        OutboxEmail.objects.filter(pk=email.pk, status=OutboxEmail.Status.SENDING).update(
            handed_over_at=now
        )

    def after_dot(dot_written: bool = True) -> None:
        if dot_written:
            email.handed_over_at = now  # known before waiting: a soft time limit may stop us
        marked = answer() if answer is not None else True
        sending = OutboxEmail.objects.filter(pk=email.pk, status=OutboxEmail.Status.SENDING)
        if not dot_written:
            # The server can't deliver it: a sweep after a crash must send it again.
            sending.filter(handed_over_at=now).update(handed_over_at=None)
        elif not marked:
            sending.update(handed_over_at=now)

    return after_dot


def email_deliver(*, email_id: int) -> DeliveryOutcome:
    """Send one queued email: claim it, send it, record the result; never sends a row twice."""
    email = _claim(email_id)
    if email is None:
        return SKIPPED
    try:
        transport.send(build_message(email), on_handover=lambda: _mark_handed_over(email))
    except SoftTimeLimitExceeded as exc:
        _settle(email, exc)
        raise  # the task stops here, rather than starting another send it can't finish
    except Exception as exc:
        return _settle(email, exc)
    _finish(email, OutboxEmail.Status.SENT)
    return DeliveryOutcome("sent")


def _settle(email: OutboxEmail, exc: BaseException) -> DeliveryOutcome:
    """A send that raised: tried again later, with the same Message-ID (by which a mailbox can
    fold the rare copy), unless that could only send more copies.

    The server takes a message with its answer to the final dot; without one, the message may
    never have arrived (a server that closed the connection, or hung after the body), so the
    email is tried again. The second try of a row whose whole message got no answer in time
    (the wait is long: transport.FINAL_REPLY_SECONDS) ends it failed, saying the server may
    have it: never more than two copies, and never a loss nobody sees. A try the task's own
    time limit stopped after the hand-over counts as sent, like a worker that died there
    (outbox_sweep)."""
    if email.handed_over_at is not None:
        if isinstance(exc, SoftTimeLimitExceeded):
            _finish(email, OutboxEmail.Status.SENT, HANDED_OVER_BEFORE_STOP)
            return DeliveryOutcome("sent")
        if isinstance(exc, transport.FinalAnswerTimedOut):
            email.unanswered += 1
            OutboxEmail.objects.filter(pk=email.pk).update(unanswered=F("unanswered") + 1)
            if email.unanswered >= 2:
                logger.error("email %s: no answer to the whole message, twice", email.pk)
                _finish(email, OutboxEmail.Status.FAILED, NO_ANSWER_TWICE)
                return DeliveryOutcome("failed")
        if not isinstance(exc, smtplib.SMTPResponseException):
            logger.warning("email %s: no answer to the whole message (%s)", email.pk, exc)
    return _failed(email, exc)


def _failed(email: OutboxEmail, exc: BaseException) -> DeliveryOutcome:
    error = f"{type(exc).__name__}: {exc}"
    if is_permanent_failure(exc) or email.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        logger.error("email %s failed after %s tries: %s", email.pk, email.attempts, error)
        _finish(email, OutboxEmail.Status.FAILED, error)
        return DeliveryOutcome("failed")
    delay = retry_delay(email.attempts)
    logger.warning(
        "email %s try %s failed, retry in %.0fs: %s", email.pk, email.attempts, delay, error
    )
    _finish(email, OutboxEmail.Status.QUEUED, error, retry_in=delay)
    return DeliveryOutcome("retry", retry_in=delay)


def outbox_sweep(*, limit: int = 500) -> int:
    """Take care of what a broker outage or a dead worker left behind; return rows enqueued.

    Rows still queued a while after they were due are enqueued again. A row stuck in sending
    past the time-out was being sent by a worker that died: if it had not handed the message
    over yet, it is queued again; if it had, the mail server has the message, so the row is
    marked sent rather than sent twice. Rows are claimed with SKIP LOCKED, so several sweeps at
    once never take the same row.
    """
    now = timezone.now()
    stale_queued = now - timedelta(seconds=settings.OUTBOX_SWEEP_AFTER_SECONDS)
    stuck_since = now - timedelta(seconds=settings.OUTBOX_SENDING_TIMEOUT_SECONDS)
    with transaction.atomic():
        due = list(
            OutboxEmail.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxEmail.Status.QUEUED, next_attempt_at__lt=stale_queued)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        stuck = OutboxEmail.objects.select_for_update(skip_locked=True).filter(
            status=OutboxEmail.Status.SENDING, sending_started_at__lt=stuck_since
        )
        stuck.filter(handed_over_at__isnull=False).update(
            status=OutboxEmail.Status.SENT,
            sent_at=F("handed_over_at"),
            last_error=HANDED_OVER_BEFORE_STOP,
            updated_at=now,
        )
        interrupted = list(stuck.filter(handed_over_at__isnull=True).values_list("pk", "attempts"))
        # A message that stops its worker every time (too big, a hard time limit) ends failed,
        # where it shows, after as many tries as any other failure.
        given_up = [pk for pk, tries in interrupted if tries >= settings.OUTBOX_MAX_ATTEMPTS]
        interrupted = [pk for pk, tries in interrupted if tries < settings.OUTBOX_MAX_ATTEMPTS]
        OutboxEmail.objects.filter(pk__in=given_up).update(
            status=OutboxEmail.Status.FAILED,
            last_error=STOPPED_ON_EVERY_TRY,
            updated_at=now,
        )
        OutboxEmail.objects.filter(pk__in=interrupted).update(
            status=OutboxEmail.Status.QUEUED,
            last_error=STOPPED_WHILE_SENDING,
            updated_at=now,
        )
        # Push the due time forward so that a second sweep a moment later leaves them alone.
        OutboxEmail.objects.filter(pk__in=due + interrupted).update(next_attempt_at=now)
    from mail.tasks import deliver_emails

    swept = due + interrupted
    for batch in _batches(swept):
        enqueue(deliver_emails, batch)
    return len(swept)


class NotFailed(Exception):
    """Only a failed email can be sent again."""


class NotResendable(Exception):
    """A failed email that a new try could not deliver usefully (OutboxEmail.resendable)."""


def email_resend(*, email_id: int, acting_user) -> OutboxEmail:
    """Give a failed email a new try (the same row: a sent email is never sent twice)."""
    from alerts.audit import audit_record
    from alerts.models import AuditEvent

    with transaction.atomic():
        email = (
            OutboxEmail.objects.select_for_update(of=("self",))
            .select_related("request__site")
            .get(pk=email_id)
        )
        if email.status != OutboxEmail.Status.FAILED:
            raise NotFailed(email.status)
        if not OutboxEmail.objects.resendable().filter(pk=email.pk).exists():
            raise NotResendable(email.kind)
        email.status = OutboxEmail.Status.QUEUED
        email.next_attempt_at = timezone.now()
        email.save(update_fields=["status", "next_attempt_at", "updated_at"])
        if email.organization_id:
            audit_record(
                organization_id=email.organization_id,
                action=AuditEvent.Action.EMAIL_RESENT,
                actor=acting_user,
                site=email.request.site if email.request else None,
                request=email.request,
                changes={"to": email.to_email, "kind": email.kind, "tries": email.attempts},
            )
        from mail.tasks import deliver_email

        enqueue_on_commit(deliver_email, email.pk)
    return email
