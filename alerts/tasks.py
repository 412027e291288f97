"""Celery tasks of the alerts center: thin wrappers that take ids and call the services."""

from celery import shared_task

from alerts import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def apply_rules_to_pending(site_id: int) -> int:
    """Decide a site's pending requests by its rules, after an administrator asked for it."""
    return services.requests_apply_rules_requested(site_id=site_id)


@shared_task
def rules_sweep() -> int:
    """Publish again the rule runs that were asked for and never done (the broker was down)."""
    return services.rules_sweep()
