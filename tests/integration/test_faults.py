"""Email is never lost and never doubled, under faults (SPEC section 8).

Each test drives a private stack (its own Redis, gunicorn, a Celery worker with beat, an SMTP
server) and counts deliveries at the SMTP server by their idempotency-key header.
"""

import signal
from collections import Counter

import pytest
from django.db import transaction

from mail.models import OutboxEmail
from mail.services import email_queue
from signup.models import SignupRequest, Submission
from sites.services import SettingsValues, site_settings_update
from tests.conftest import require_services
from tests.integration.conftest import Mailbox, wait_for
from tests.integration.stack import (
    Browserless,
    RedisServer,
    SmtpServer,
    WebServer,
    stack_env,
    start_worker_with_beat,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SIGNUPS = 200
DRAIN_TIMEOUT = 180


class Stack:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.smtp = SmtpServer(self.mailbox)
        self.redis = RedisServer()
        self.env = stack_env(smtp_port=self.smtp.port, redis_url=self.redis.url)
        self.web = WebServer(self.env)
        self.worker = None

    def start(self) -> "Stack":
        self.smtp.start()
        self.redis.start()
        self.web.start()
        self.worker = start_worker_with_beat(self.env)
        return self

    def stop(self) -> None:
        for part in (self.worker, self.web, self.redis, self.smtp):
            if part is not None:
                part.stop()

    def restart_worker(self, sig: int | None = None) -> None:
        self.worker.stop(sig)
        self.worker = start_worker_with_beat(self.env)


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        require_services()
        running = Stack().start()
    yield running
    running.stop()


@pytest.fixture
def site(site, stack):
    site_settings_update(
        site_id=site.pk,
        acting_user=None,
        values=SettingsValues(
            signup_enabled=True,
            require_confirmation=False,
            required_fields=["first_name", "last_name"],
        ),
    )
    stack.mailbox.clear()
    return site


def sign_up_many(stack: Stack, site, count: int, prefix: str) -> list[float]:
    client = Browserless(stack.web.url)
    latencies = []
    for i in range(count):
        status, seconds = client.sign_up(
            site.slug, email=f"{prefix}{i}@example.net", first_name="F", last_name=f"L{i}"
        )
        assert status == 200
        latencies.append(seconds)
    return latencies


def all_delivered(expected_rows: int):
    def check() -> bool:
        rows = list(OutboxEmail.objects.values_list("status", flat=True))
        return len(rows) == expected_rows and all(s in ("sent", "failed") for s in rows)

    return check


def assert_exactly_once(stack: Stack) -> None:
    keys = stack.mailbox.keys()
    counts = Counter(keys)
    doubled = {key: n for key, n in counts.items() if n > 1}
    assert not doubled, doubled
    sent = set(OutboxEmail.objects.filter(status="sent").values_list("idempotency_key", flat=True))
    assert set(keys) == sent


def test_broker_down_during_signups_then_back(stack, site, full_admin):
    stack.redis.stop()
    latencies = sign_up_many(stack, site, SIGNUPS, "outage")
    print(
        f"\nsign-up with the broker down: max {max(latencies) * 1000:.0f} ms, "
        f"mean {sum(latencies) / len(latencies) * 1000:.0f} ms over {SIGNUPS}"
    )
    assert Submission.objects.count() == SIGNUPS  # every sign-up was taken
    stack.redis.start()
    # Each sign-up: "request received" to the requester, "new request" to the administrator.
    wait_for(
        lambda: SignupRequest.objects.count() == SIGNUPS,
        timeout=DRAIN_TIMEOUT,
        what="the sweep to process every sign-up",
    )
    wait_for(all_delivered(2 * SIGNUPS), timeout=DRAIN_TIMEOUT, what="every email")
    assert OutboxEmail.objects.filter(status="sent").count() == 2 * SIGNUPS
    assert_exactly_once(stack)


def test_worker_killed_mid_batch(stack, site, full_admin):
    sign_up_many(stack, site, SIGNUPS, "kill")
    wait_for(
        lambda: len(stack.mailbox.keys()) >= 60,
        timeout=DRAIN_TIMEOUT,
        what="the worker to be busy delivering",
    )
    stack.restart_worker(signal.SIGKILL)
    wait_for(
        lambda: SignupRequest.objects.count() == SIGNUPS,
        timeout=DRAIN_TIMEOUT,
        what="every sign-up",
    )
    wait_for(all_delivered(2 * SIGNUPS), timeout=DRAIN_TIMEOUT, what="every email")
    assert OutboxEmail.objects.filter(status="sent").count() == 2 * SIGNUPS
    assert_exactly_once(stack)


def test_smtp_refusing_connections_then_back(stack, site, full_admin):
    stack.smtp.stop()
    sign_up_many(stack, site, 20, "refused")
    wait_for(
        lambda: OutboxEmail.objects.filter(attempts__gte=2, status="queued").exists(),
        timeout=60,
        what="failed tries to be retried",
    )
    assert OutboxEmail.objects.exclude(last_error="").exists()
    stack.smtp.start()
    wait_for(all_delivered(40), timeout=DRAIN_TIMEOUT, what="every email")
    assert OutboxEmail.objects.filter(status="sent").count() == 40
    assert_exactly_once(stack)


def test_permanent_refusal_fails_at_once_and_shows(stack, site, full_admin, client):
    stack.mailbox.refuse = {"bounce@example.net"}
    try:
        sign_up_many(stack, site, 1, "bounce-ignored")  # a normal one, delivered
        Browserless(stack.web.url).sign_up(
            site.slug, email="bounce@example.net", first_name="B", last_name="Ounce"
        )
        wait_for(
            lambda: OutboxEmail.objects.filter(
                to_email="bounce@example.net", status="failed"
            ).exists(),
            timeout=60,
            what="the refused email to fail",
        )
    finally:
        stack.mailbox.refuse = set()
    failed = OutboxEmail.objects.get(to_email="bounce@example.net")
    assert failed.attempts == 1 and "550" in failed.last_error
    client.force_login(full_admin)
    page = client.get(f"/hub/alerts/requests/{failed.request_id}/").content.decode()
    assert "Failed" in page and "550" in page and "Send again" in page


def test_rolled_back_change_sends_nothing(stack, site):
    with pytest.raises(RuntimeError), transaction.atomic():
        email_queue(
            kind="request_received",
            to="ghost@example.net",
            context={"site_name": "A"},
            language="en",
            cause="rollback",
        )
        raise RuntimeError("the change failed")
    marker = email_queue(
        kind="request_received",
        to="marker@example.net",
        context={"site_name": "A"},
        language="en",
        cause="after-rollback",
    )
    # The worker drains what the test process enqueued on the shared broker only through the
    # sweep of its own stack; wait for the marker to go out, then look for the ghost.
    wait_for(
        lambda: OutboxEmail.objects.get(pk=marker.pk).status == "sent",
        timeout=60,
        what="the marker email",
    )
    assert not stack.mailbox.to("ghost@example.net")
    assert not OutboxEmail.objects.filter(to_email="ghost@example.net").exists()
