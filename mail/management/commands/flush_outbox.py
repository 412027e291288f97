"""Enqueue again what is waiting: sign-ups no worker took, outbox emails that were never picked
up or got stuck in flight, and rule runs asked for that never finished (what Celery beat does
every minute)."""

from django.core.management.base import BaseCommand

from alerts.services import rules_sweep
from mail.services import outbox_sweep
from signup.services import submissions_sweep


class Command(BaseCommand):
    help = (
        "Re-enqueue stale sign-ups, outbox emails and rule runs (safe to run anywhere, any time)."
    )

    def handle(self, *args, **options) -> None:
        submissions = submissions_sweep()
        emails = outbox_sweep()
        rule_runs = rules_sweep()
        self.stdout.write(
            f"Woke the processing of {submissions} waiting sign-ups; re-enqueued {emails} emails "
            f"and {rule_runs} rule runs."
        )
