"""Celery tasks of the sign-up flow: thin wrappers that call the services."""

from celery import shared_task

from signup import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def process_submissions() -> int:
    """Turn the received sign-ups into requests, reminders or emails (a drain: see
    `services.submissions_process`)."""
    return services.submissions_process()


@shared_task
def submissions_sweep() -> int:
    """Wake the sign-up drain when a submission waited too long."""
    return services.submissions_sweep()


@shared_task
def requests_purge_unconfirmed() -> int:
    """Delete requests whose address was never confirmed."""
    return services.requests_purge_unconfirmed()
