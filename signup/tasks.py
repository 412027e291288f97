"""Celery tasks of the sign-up flow: thin wrappers that take ids and call the services."""

from celery import shared_task

from signup import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def process_submission(submission_id: int) -> str:
    """Turn a received sign-up into a request, a reminder or an email."""
    return services.submission_process(submission_id=submission_id)


@shared_task
def submissions_sweep() -> int:
    """Enqueue again sign-ups that no worker took."""
    return services.submissions_sweep()


@shared_task
def requests_purge_unconfirmed() -> int:
    """Delete requests whose address was never confirmed."""
    return services.requests_purge_unconfirmed()
