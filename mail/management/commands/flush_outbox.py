"""Enqueue again what is waiting to go out: sign-ups no worker took and outbox emails that were
never picked up or got stuck in flight (what Celery beat does every minute)."""

from django.core.management.base import BaseCommand

from mail.services import outbox_sweep
from signup.services import submissions_sweep


class Command(BaseCommand):
    help = "Re-enqueue stale sign-ups and outbox emails (safe to run anywhere, any time)."

    def handle(self, *args, **options) -> None:
        submissions = submissions_sweep()
        emails = outbox_sweep()
        self.stdout.write(
            f"Woke the processing of {submissions} waiting sign-ups; re-enqueued {emails} emails."
        )
