"""Race-safety on PostgreSQL: many administrators decide the same request at the same moment."""

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection
from django.test import Client

from alerts.models import AuditEvent
from mail.models import OutboxEmail
from signup.models import SignupRequest
from tests import factories
from tests.conftest import require_services

THREADS, ROUNDS = 10, 20
T = TypeVar("T")


def all_at_once(action: Callable[[int], T], count: int, *, timeout: float = 60) -> list[T]:
    """`action(0)` ... `action(count - 1)`, each in its own thread with its own database
    connection, released together; their results, in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = action(index)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def decide_all_at_once(clients: list[Client], req_id: int) -> list[tuple[str, int, str]]:
    def decide(index: int) -> tuple[str, int, str]:
        action = "approve" if index % 2 == 0 else "reject"
        response = clients[index].post(
            f"/hub/alerts/requests/{req_id}/{action}/", {"reason": "race"}
        )
        return action, response.status_code, response.content.decode()

    return all_at_once(decide, len(clients))


@pytest.mark.django_db(transaction=True)
def test_ten_administrators_decide_the_same_request_once(site):
    require_services()
    admins = [
        factories.AdministratorFactory(organization=site.organization).user for _ in range(THREADS)
    ]
    clients = []
    for admin in admins:
        client = Client()
        client.force_login(admin)
        clients.append(client)
    for _round in range(ROUNDS):
        req = factories.SignupRequestFactory(site=site)
        answers = decide_all_at_once(clients, req.pk)
        codes = sorted(code for _action, code, _body in answers)
        assert codes == [302] + [409] * (THREADS - 1), answers
        req.refresh_from_db()
        winner = next(action for action, code, _body in answers if code == 302)
        assert req.status == {"approve": "approved", "reject": "rejected"}[winner]
        assert OutboxEmail.objects.filter(request=req).count() == 1
        assert AuditEvent.objects.filter(request=req).count() == 1
        word = "approved" if winner == "approve" else "rejected"
        loser_bodies = [body for _a, code, body in answers if code == 409]
        assert all(
            f"Already {word} by {req.decided_by.display_name} at" in body for body in loser_bodies
        )
    assert SignupRequest.objects.filter(status="pending").count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_enqueue_each_row_once(monkeypatch):
    """Two beat schedulers (or flush_outbox beside beat) sweeping at the same moment."""
    from datetime import timedelta

    from django.utils import timezone

    from mail import services

    require_services()
    stale = timezone.now() - timedelta(minutes=10)
    OutboxEmail.objects.bulk_create(
        OutboxEmail(
            idempotency_key=f"sweep-{i}",
            kind="request_received",
            to_email=f"s{i}@example.net",
            next_attempt_at=stale,
        )
        for i in range(200)
    )
    enqueued: list[int] = []
    lock = threading.Lock()

    def record(task, ids):
        with lock:
            enqueued.extend(ids)
        return True

    monkeypatch.setattr(services, "enqueue", record)
    all_at_once(lambda _: services.outbox_sweep(limit=500), 4)
    assert sorted(enqueued) == sorted(OutboxEmail.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_locked_site_row_does_not_make_a_sign_up_skipped(site):
    """Another transaction holding the site's row (a settings save, another sign-up being
    processed) makes processing wait, not pass over the submission."""
    from signup.models import Submission
    from signup.services import submission_process_next
    from sites.models import Site

    require_services()
    Submission.objects.create(
        site=site, email="wait@example.net", fields={"first_name": "W", "last_name": "T"}
    )
    locked, release = threading.Event(), threading.Event()

    def hold_site_row():
        from django.db import transaction

        try:
            with transaction.atomic():
                Site.objects.select_for_update().get(pk=site.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_site_row)
    holder.start()
    assert locked.wait(timeout=10)
    threading.Timer(0.5, release.set).start()
    outcome = submission_process_next()
    holder.join(timeout=10)
    assert outcome == "created"
    assert SignupRequest.objects.filter(email="wait@example.net").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_process_each_sign_up_once(site, full_admin, monkeypatch):
    """Four workers draining one backlog, with repeated addresses among the sign-ups: every
    submission is taken once, and each address gets one request."""
    from signup import services
    from signup.models import Submission
    from sites.models import Site

    require_services()
    Site.objects.filter(pk=site.pk).update(signup_enabled=True, require_confirmation=True)
    monkeypatch.setattr(services, "submissions_wake", lambda: False)
    Submission.objects.bulk_create(
        Submission(
            site=site,
            email=f"drain{i % 60}@example.net",
            fields={"first_name": "D", "last_name": str(i)},
        )
        for i in range(120)
    )
    counts = all_at_once(lambda _: services.submissions_process(), 4, timeout=120)
    assert sum(counts) == 120
    assert not Submission.objects.exists()
    assert SignupRequest.objects.count() == 60
    assert sorted(SignupRequest.objects.values_list("email", flat=True)) == sorted(
        f"drain{i}@example.net" for i in range(60)
    )


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_racing_the_approval_of_its_address_makes_no_request_for_a_host(site, full_admin):
    """The intake reads the address's open request while an administrator's approval of it is
    about to commit: it waits, then sees the new host, and queues no second request."""
    import time

    from django.db import transaction

    from alerts.services import _approve_batch, _lock_pending
    from orgs.models import HostLicense
    from signup import services
    from signup.models import Submission
    from tests.test_signup_flow import configure

    require_services()
    configure(site, require_confirmation=False)
    req = factories.SignupRequestFactory(site=site, email="nora@example.net")
    Submission.objects.create(site=site, email="nora@example.net", fields={}, language="en")
    approving = threading.Event()

    def approve() -> None:  # what request_approve does, held open a moment before its commit
        try:
            with transaction.atomic():
                _approve_batch([_lock_pending(req.pk)], actor=full_admin, decisions=None)
                approving.set()
                time.sleep(1.0)
        finally:
            connection.close()

    def intake() -> None:
        try:
            approving.wait(10)
            services.submission_process_next()
        finally:
            connection.close()

    threads = [threading.Thread(target=approve), threading.Thread(target=intake)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert HostLicense.objects.filter(site=site, person__email_normalized="nora@example.net")
    assert not SignupRequest.objects.open().exists()
    assert OutboxEmail.objects.filter(kind="already_host").count() == 1
