"""Celery tasks of the outbox: thin wrappers that take ids and call the services."""

import logging

from celery import shared_task
from celery.exceptions import Reject, SoftTimeLimitExceeded

from mail import services
from selfsignup.queueing import BROKER_ERRORS

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_email(self, email_id: int) -> str:
    """Deliver one outbox email; on a passing SMTP failure, retry later with backoff."""
    outcome = services.email_deliver(email_id=email_id)
    if outcome.retry_in is not None and not self.request.is_eager:
        # In-process mode (no broker) leaves the row queued for the sweep instead.
        try:
            raise self.retry(countdown=outcome.retry_in)
        except Reject as exc:
            # Celery wraps a retry it could not publish (the broker is away) in Reject: the row
            # stays queued, with its backoff, for the sweep.
            logger.warning("could not schedule the retry of email %s: %s", email_id, exc)
    return outcome.status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_emails(email_ids: list[int]) -> dict[str, int]:
    """Deliver a few outbox emails, each exactly as `deliver_email` would; those that must be
    tried again later get a message of their own."""
    counts: dict[str, int] = {}
    for index, email_id in enumerate(email_ids):
        try:
            outcome = services.email_deliver(email_id=email_id)
        except SoftTimeLimitExceeded:
            # A slow mail server: the rest go in a message of their own, within its own limit.
            _hand_on(email_ids[index + 1 :])
            counts["handed on"] = len(email_ids) - index - 1
            return counts
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if outcome.retry_in is not None and not deliver_emails.request.is_eager:
            try:
                deliver_email.apply_async((email_id,), countdown=outcome.retry_in)
            except BROKER_ERRORS as exc:
                logger.warning("could not schedule the retry of email %s: %s", email_id, exc)
    return counts


def _hand_on(email_ids: list[int]) -> None:
    if not email_ids:
        return
    try:
        deliver_emails.apply_async((email_ids,))
    except BROKER_ERRORS as exc:
        logger.warning("could not hand on emails %s, left for the sweep: %s", email_ids, exc)


@shared_task
def outbox_sweep() -> int:
    """Enqueue again emails that were never picked up or got stuck in flight."""
    return services.outbox_sweep()
