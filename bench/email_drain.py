"""email_drain: emails per second through ONE Celery worker process (`-P solo`) to a local SMTP
server (aiosmtpd).

1,000 outbox rows ("request received") are queued; the worker is started; their delivery is
enqueued as a commit enqueues it (`deliver_after_commit`: a few rows to a message); the clock
runs from the first enqueue to the last row's `sent_at`.
Ratio: emails/s ÷ 100, target ≥ 1.0 (at least 100 emails a second), with every row sent and
exactly one message per row received by the SMTP server.
"""

import time

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from bench.common import CeleryWorker, Result, SmtpSink, header, report, reset_data, step
from mail.models import EmailKind, OutboxEmail
from mail.services import deliver_after_commit

NAME = "email_drain"
EMAILS = 1000
TARGET_PER_SECOND = 100.0
TIMEOUT_SECONDS = 120.0
STALL_SECONDS = 30.0


def _queue_rows() -> list[int]:
    OutboxEmail.objects.bulk_create(
        OutboxEmail(
            idempotency_key=f"bench:drain:{number}",
            kind=EmailKind.REQUEST_RECEIVED,
            to_email=f"requester{number}@drain.example",
            language="en",
            context={"site_name": "Acme", "first_name": "Ada", "site_url": "http://x/"},
        )
        for number in range(EMAILS)
    )
    return list(OutboxEmail.objects.order_by("pk").values_list("pk", flat=True))


def _wait_until_sent() -> int:
    """Poll until every row is sent; give up after the time-out or a stall."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        sent = OutboxEmail.objects.filter(status=OutboxEmail.Status.SENT).count()
        if sent >= EMAILS:
            return sent
        if sent != last:
            last, last_change = sent, time.monotonic()
        elif time.monotonic() - last_change > STALL_SECONDS:
            break
        time.sleep(0.1)
    return max(last, 0)


def run() -> Result:
    header(NAME, f"{EMAILS} emails through one Celery worker (solo pool) to aiosmtpd")
    reset_data()
    with step(f"queue {EMAILS} outbox rows (bulk_create)"):
        ids = _queue_rows()
    with SmtpSink() as smtp:
        with step("start the Celery worker"):
            worker = CeleryWorker(EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}").start()
        try:
            started_at = timezone.now()
            started = time.perf_counter()
            # The production path: what committing a change that queued these emails enqueues.
            with transaction.atomic():
                deliver_after_commit(ids)
            enqueue_seconds = time.perf_counter() - started
            sent = _wait_until_sent()
            polled_seconds = time.perf_counter() - started
        finally:
            worker.stop()
        received = smtp.received
    last_sent = OutboxEmail.objects.aggregate(last=Max("sent_at"))["last"]
    statuses = dict(
        OutboxEmail.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    # The last row's sent_at is exact; polling only tells when we looked.
    seconds = (last_sent - started_at).total_seconds() if last_sent else polled_seconds
    rate = sent / seconds if seconds > 0 else 0.0
    print(f"  enqueued the delivery of {len(ids)} rows in {enqueue_seconds:.2f}s")
    print(f"  rows by status: {statuses}")
    print(f"  sent {sent}/{EMAILS} in {seconds:.2f}s (first enqueue → last sent_at)")
    print(f"  SMTP server received {received} messages (rows: {EMAILS})")
    print(f"  throughput: {rate:.1f} emails/s; worker log: {worker.log}")
    complete = sent == EMAILS and received == EMAILS
    if not complete:
        print("  INCOMPLETE: not every row was sent exactly once")
    ratio = rate / TARGET_PER_SECOND
    return report(
        Result(NAME, ratio, ">=1.00 (100 emails/s, all sent once)", complete and ratio >= 1)
    )
