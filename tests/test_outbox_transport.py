"""The SMTP transport: the hand-over checkpoint, kept connections, and what the sweep does with
a row a dead worker left in flight."""

import signal
import smtplib
import threading
import time
from datetime import timedelta

import psycopg2
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from django.utils import timezone

from mail import handover, transport
from mail.models import EmailKind, OutboxEmail
from mail.rendering import message_id
from mail.services import email_deliver, email_queue, outbox_sweep
from tests.integration.conftest import Mailbox, free_port

CONTEXT = {"site_name": "Acme", "first_name": "Nora", "site_url": "http://testserver/"}


@pytest.fixture
def smtp(settings):
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "mail.transport.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    transport.drop_connection()
    yield mailbox
    transport.drop_connection()
    controller.stop()


def queue(cause: str) -> OutboxEmail:
    return email_queue(
        kind=EmailKind.REQUEST_RECEIVED,
        to="nora@example.net",
        context=CONTEXT,
        language="en",
        cause=cause,
    )


def test_handover_is_recorded_before_the_server_has_the_message(db, smtp, monkeypatch):
    email = queue("handover")
    seen_at_handover = []
    real = transport.HandoverHookMixin.data

    def spy(self, msg):
        hook = self.before_final_dot

        def check():
            seen_at_handover.append(len(smtp.messages))
            return hook()

        self.before_final_dot = check
        return real(self, msg)

    monkeypatch.setattr(transport.HandoverHookMixin, "data", spy)
    assert email_deliver(email_id=email.pk).status == "sent"
    email.refresh_from_db()
    assert seen_at_handover == [0]  # the server had nothing yet when the hand-over was noted
    assert len(smtp.messages) == 1
    assert email.handed_over_at is not None and email.handed_over_at <= email.sent_at


def test_one_connection_serves_many_emails(db, smtp, monkeypatch):
    opened = []
    real_open = transport.EmailBackend.open

    def counting_open(self):
        created = real_open(self)
        if created:
            opened.append(self)
        return created

    monkeypatch.setattr(transport.EmailBackend, "open", counting_open)
    for i in range(5):
        assert email_deliver(email_id=queue(f"many-{i}").pk).status == "sent"
    assert len(smtp.messages) == 5 and len(opened) == 1


def test_the_final_dot_does_not_wait_for_the_handover_to_commit(postgres, smtp, monkeypatch):
    """A worker that waited for the hand-over's commit before the dot, and died meanwhile, left
    a row marked handed over for a message the server never got: an email lost. The mark is
    sent first and the dot follows at once: here the mark is held up by a lock, and the server
    has the message all the same; once the mark commits, the row is sent and handed over."""
    from tests.integration.conftest import wait_for

    email = queue("no-wait")
    blocker = _blocker()
    _hold_the_row_before_the_dot(monkeypatch, blocker, email)
    outcome = []

    def deliver():
        try:
            outcome.append(email_deliver(email_id=email.pk).status)
        finally:
            handover._drop()
            transport.drop_connection()
            connection.close()

    try:
        worker = threading.Thread(target=deliver)
        worker.start()
        wait_for(lambda: len(smtp.messages) == 1, timeout=10, what="the message at the server")
        assert OutboxEmail.objects.get(pk=email.pk).handed_over_at is None  # still waiting
    finally:
        blocker.rollback()
        blocker.close()
    worker.join(timeout=10)
    assert outcome == ["sent"]
    email.refresh_from_db()
    assert email.status == "sent" and email.handed_over_at is not None


def test_a_connection_closed_by_the_server_is_reopened(db, smtp):
    assert email_deliver(email_id=queue("first").pk).status == "sent"
    transport._local.backend.connection.sock.close()  # the server went away meanwhile
    assert email_deliver(email_id=queue("second").pk).status == "sent"
    assert len(smtp.messages) == 2


def _stuck(cause: str, *, handed_over: bool) -> OutboxEmail:
    email = queue(cause)
    long_ago = timezone.now() - timedelta(hours=1)
    OutboxEmail.objects.filter(pk=email.pk).update(
        status="sending",
        attempts=1,
        sending_started_at=long_ago,
        handed_over_at=long_ago if handed_over else None,
    )
    return email


def test_worker_died_before_handover_sends_again_once(db, outbox, run_commits):
    email = _stuck("before", handed_over=False)
    with run_commits():
        assert outbox_sweep() == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 2)
    assert len(outbox) == 1


def test_a_message_that_stops_its_worker_on_every_try_ends_failed(db, outbox, settings):
    """It would otherwise be queued again at every sweep, for ever, and never show as failed."""
    email = _stuck("kills-workers", handed_over=False)
    OutboxEmail.objects.filter(pk=email.pk).update(attempts=settings.OUTBOX_MAX_ATTEMPTS)
    assert outbox_sweep() == 0
    email.refresh_from_db()
    assert email.status == "failed" and "on every try" in email.last_error
    assert outbox == []


def test_worker_died_after_handover_is_not_sent_twice(db, outbox, run_commits):
    email = _stuck("after", handed_over=True)
    with run_commits():
        assert outbox_sweep() == 0
    email.refresh_from_db()
    assert email.status == "sent" and email.sent_at == email.handed_over_at
    assert "not sent again" in email.last_error
    assert outbox == []


def test_flush_outbox_command(db, outbox, run_commits, capsys):
    from django.core.management import call_command

    from sites.models import Site
    from tests import factories

    email = queue("late")
    OutboxEmail.objects.filter(pk=email.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    # A rule run asked for an hour ago that never finished (its worker died, say).
    site = factories.SiteFactory()
    Site.objects.filter(pk=site.pk).update(
        rules_apply_requested_at=timezone.now() - timedelta(hours=1)
    )
    with run_commits():
        call_command("flush_outbox")
    assert (
        "Woke the processing of 0 waiting sign-ups; re-enqueued 1 emails and 1 rule runs."
        in capsys.readouterr().out
    )
    assert OutboxEmail.objects.get(pk=email.pk).status == "sent"


def test_failed_email_can_be_sent_again_from_the_request_page(
    client, site, full_admin, outbox, run_commits
):
    from tests import factories

    req = factories.SignupRequestFactory(site=site)
    failed = OutboxEmail.objects.create(
        idempotency_key="f",
        kind="request_received",
        to_email=req.email,
        request=req,
        organization=site.organization,
        status="failed",
        attempts=6,
        context=CONTEXT,
        last_error="SMTPRecipientsRefused: 550",
    )
    sent = OutboxEmail.objects.create(
        idempotency_key="s",
        kind="request_received",
        to_email=req.email,
        request=req,
        organization=site.organization,
        status="sent",
        sent_at=timezone.now(),
        context=CONTEXT,
    )
    client.force_login(full_admin)
    page = client.get(f"/hub/alerts/requests/{req.pk}/").content.decode()
    assert page.count(">Send again</button>") == 1
    with run_commits():
        client.post(f"/hub/alerts/requests/{req.pk}/emails/{failed.pk}/resend/")
        client.post(f"/hub/alerts/requests/{req.pk}/emails/{sent.pk}/resend/")
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("sent", 7)
    assert OutboxEmail.objects.count() == 2 and len(outbox) == 1  # the same row, no copy


class AnswersLate(Mailbox):
    """Takes the whole message, then answers after the connection's usual time-out."""

    async def handle_DATA(self, server, session, envelope) -> str:
        import asyncio

        await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(2)
        return "250 OK"


@pytest.fixture
def late_smtp(settings):
    """A mail server that answers the whole message late (after 2 s, over a 1 s time-out)."""
    from aiosmtpd.controller import Controller

    mailbox, port = AnswersLate(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "mail.transport.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 1
    transport.drop_connection()
    yield mailbox
    transport.drop_connection()
    controller.stop()


def test_the_answer_to_the_whole_message_is_waited_for_longer(db, late_smtp, monkeypatch):
    """A server that checks a message before answering is given longer than other replies: the
    email is sent once, not timed out and sent again."""
    monkeypatch.setattr(transport, "FINAL_REPLY_SECONDS", 5.0)
    email = queue("late-answer")
    assert email_deliver(email_id=email.pk).status == "sent"
    email.refresh_from_db()
    assert (email.status, email.last_error) == (OutboxEmail.Status.SENT, "")
    assert len(late_smtp.messages) == 1


def test_no_answer_in_time_twice_to_the_whole_message_ends_failed_not_sent_a_third_time(
    db, late_smtp, monkeypatch
):
    """The connection stays open but the answer doesn't come in time: tried again (the server
    may have hung after the body). When that try gets no answer either, the server may take
    messages but answer too late, so it would take a copy at every try: the row ends failed,
    saying it may have arrived (an administrator decides whether to send it again)."""
    monkeypatch.setattr(transport, "FINAL_REPLY_SECONDS", 1.0)
    email = queue("no-answer-in-time")
    assert email_deliver(email_id=email.pk).status == "retry"
    due_again(email)
    assert email_deliver(email_id=email.pk).status == "failed"
    email.refresh_from_db()
    assert (email.status, email.unanswered) == (OutboxEmail.Status.FAILED, 2)
    assert "did not answer the whole message, twice: it may have it" in email.last_error
    # Whatever comes again for the row (a sweep, a redelivered message) sends nothing.
    assert email_deliver(email_id=email.pk).status == "skipped"
    time.sleep(1.5)  # the server's late answers
    assert len(late_smtp.messages) == 2


def test_unanswered_tries_add_up_across_other_failures(db, monkeypatch):
    """A relay that answers late, then is busy, then answers late again: the two unanswered
    tries still end the row (at most two copies), whatever failed in between."""
    failures = iter(
        [
            transport.FinalAnswerTimedOut("timed out"),
            smtplib.SMTPSenderRefused(451, b"busy", "x@y.z"),
            transport.FinalAnswerTimedOut("timed out"),
        ]
    )

    def send(message, on_handover):
        failure = next(failures)
        if isinstance(failure, transport.FinalAnswerTimedOut):
            after = on_handover()
            if after is not None:
                after()
        raise failure

    monkeypatch.setattr(transport, "send", send)
    email = queue("late-busy-late")
    outcomes = []
    for _ in range(3):
        outcomes.append(email_deliver(email_id=email.pk).status)
        due_again(email)
    assert outcomes == ["retry", "retry", "failed"]


class DropsMidMessage:
    """A mail server that, on its first connection, closes it in the middle of the message
    (before the final dot: it never has the message), then takes messages normally."""

    def __init__(self, *, hang: bool = False) -> None:
        import socket

        self.hang = hang  # rather than closing, stop reading and answering for a while
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as lines:
                self._session(conn, lines, drop=self.connections == 1)

    def _session(self, conn, lines, *, drop: bool) -> None:
        conn.sendall(b"220 test\r\n")
        for line in lines:
            command = line[:4].upper()
            if command == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            if command != b"DATA":
                conn.sendall(b"250 ok\r\n")
                continue
            conn.sendall(b"354 go on\r\n")
            body = []
            for data_line in lines:
                if drop and len(body) == 3:
                    if self.hang:
                        time.sleep(3)  # frozen: the rest of the message is never read
                    return  # the connection closes with the message unfinished
                if data_line == b".\r\n":
                    break
                body.append(data_line)
            self.received.append(b"".join(body))
            conn.sendall(b"250 queued\r\n")

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("hang", [False, True])
def test_a_message_the_server_never_had_is_tried_again(db, settings, monkeypatch, hang):
    """The server closed the connection in the middle of the message, or hung there (the whole
    message left this end, into the socket's buffers, but it never read it): it never had it,
    so the row is not counted as sent but tried again, and delivered then."""
    monkeypatch.setattr(transport, "FINAL_REPLY_SECONDS", 1.0)
    server = DropsMidMessage(hang=hang)
    settings.EMAIL_BACKEND = "mail.transport.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_TIMEOUT = 1 if hang else 5
    transport.drop_connection()
    try:
        email = queue("dropped")
        assert email_deliver(email_id=email.pk).status == "retry"
        email.refresh_from_db()
        assert email.status == OutboxEmail.Status.QUEUED and server.received == []
        assert ("FinalAnswerTimedOut" if hang else "SMTPServerDisconnected") in email.last_error
        if hang:
            time.sleep(3)  # the frozen session ends (the server takes one connection at a time)
        due_again(email)
        assert email_deliver(email_id=email.pk).status == "sent"
    finally:
        transport.drop_connection()
        server.close()
    assert len(server.received) == 1 and message_id(email).encode() in server.received[0]


def test_a_refusal_after_the_message_is_tried_again(db, smtp, monkeypatch):
    import smtplib

    def refuse(message, on_handover):
        on_handover()
        raise smtplib.SMTPDataError(451, b"try later")

    monkeypatch.setattr(transport, "send", refuse)
    email = queue("refused")
    assert email_deliver(email_id=email.pk).status == "retry"
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.QUEUED


def refuse_after_the_message(message, on_handover):
    import smtplib

    on_handover()
    raise smtplib.SMTPDataError(451, b"try later")


def due_again(email: OutboxEmail) -> None:
    OutboxEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())


def test_a_refused_try_leaves_no_handover_to_the_next_try(db, monkeypatch):
    """A refusal after the message, then a try that never reaches the server: nothing was
    delivered, so the row waits for another try (it used to count as sent, and was lost)."""
    monkeypatch.setattr(transport, "send", refuse_after_the_message)
    email = queue("refused-then-down")
    assert email_deliver(email_id=email.pk).status == "retry"

    def server_down(message, on_handover):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(transport, "send", server_down)
    due_again(email)
    assert email_deliver(email_id=email.pk).status == "retry"
    email.refresh_from_db()
    assert (email.status, email.handed_over_at, email.sent_at) == ("queued", None, None)


def test_a_worker_dying_on_the_try_after_a_refusal_is_sent_again(db, monkeypatch):
    from mail.services import _claim

    monkeypatch.setattr(transport, "send", refuse_after_the_message)
    email = queue("refused-then-died")
    assert email_deliver(email_id=email.pk).status == "retry"
    due_again(email)
    assert _claim(email.pk) is not None  # the next try starts, and its worker dies
    OutboxEmail.objects.filter(pk=email.pk).update(
        sending_started_at=timezone.now() - timedelta(hours=1)
    )
    monkeypatch.setattr("mail.services.enqueue", lambda *args: True)
    outbox_sweep()
    email.refresh_from_db()
    assert (email.status, email.sent_at) == ("queued", None)


def test_a_handover_interrupted_before_it_is_recorded_is_not_a_send(db, monkeypatch):
    """Stopped (soft time limit) while recording the hand-over: the final dot was never sent,
    so the try did not deliver anything."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.db.models import QuerySet

    real_update = QuerySet.update

    def update(self, **changes):
        if list(changes) == ["handed_over_at"]:
            raise SoftTimeLimitExceeded()
        return real_update(self, **changes)

    monkeypatch.setattr(QuerySet, "update", update)
    delivered = []

    def send(message, on_handover):
        on_handover()
        delivered.append(message)

    monkeypatch.setattr(transport, "send", send)
    email = queue("interrupted-handover")
    with pytest.raises(SoftTimeLimitExceeded):
        email_deliver(email_id=email.pk)
    email.refresh_from_db()
    assert delivered == [] and (email.status, email.sent_at) == ("queued", None)


# --- Around the final dot, on the asynchronous hand-over connection ------------------------------


@pytest.fixture
def postgres(transactional_db, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the asynchronous hand-over mark is for PostgreSQL")
    monkeypatch.setattr("mail.services.enqueue_on_commit", lambda *args: None)
    handover._drop()
    yield
    handover._drop()


def _blocker():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    return psycopg2.connect(**params)


def _hold_the_row_before_the_dot(monkeypatch, blocker, email, *, then=lambda: None) -> None:
    """Just before the final dot, another session takes the row's lock (the row is claimed,
    committed "sending"), so that the hand-over note waits for it; then `then()`."""
    real_data = transport.HandoverHookMixin.data

    def data_with_the_row_held(self, msg):
        hook = self.before_final_dot

        def hold_then_mark():
            with blocker.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM mail_outboxemail WHERE id = %s FOR UPDATE", [email.pk]
                )
            then()
            return hook()

        self.before_final_dot = hold_then_mark
        return real_data(self, msg)

    monkeypatch.setattr(transport.HandoverHookMixin, "data", data_with_the_row_held)


@pytest.mark.parametrize("path", ["async", "sync"])
def test_a_dot_that_could_not_be_written_is_not_a_hand_over(
    path,
    postgres,
    smtp,
    monkeypatch,
):
    """The connection broke before the dot left: the server can't deliver the message, so the
    row must be tried again, not counted sent (that email would be lost)."""
    if path == "sync":
        monkeypatch.setattr(handover, "mark_sent_async", lambda *args: None)
    real_send = transport.HandoverSMTP.send

    def send(self, data):
        if data == b"." + smtplib.bCRLF:
            self.close()
            raise smtplib.SMTPServerDisconnected("Server not connected")
        return real_send(self, data)

    monkeypatch.setattr(transport.HandoverSMTP, "send", send)
    email = queue("dot-not-written")
    outcome = email_deliver(email_id=email.pk)
    email.refresh_from_db()
    assert smtp.messages == []
    assert (outcome.status, email.status) == ("retry", "queued")


def test_a_hand_over_whose_mark_went_unanswered_is_made_again(
    postgres,
    smtp,
    monkeypatch,
):
    """The hand-over connection died while idle (PostgreSQL restarted, idle_session_timeout, a
    pooler): the mark is lost, yet the dot goes out. The mark is made again through the main
    connection, so that a worker dying while it waits for the server's answer is not sent
    again by the sweep. (The answer is lost here: the row is tried again.)"""
    handover._connection()
    pid = handover._local.conn.get_backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.3)
    real_data = transport.HandoverHookMixin.data

    def data_answer_lost(self, msg):
        real_data(self, msg)
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(transport.HandoverHookMixin, "data", data_answer_lost)
    email = queue("mark-lost")
    outcome = email_deliver(email_id=email.pk)
    email.refresh_from_db()
    assert len(smtp.messages) == 1
    assert email.handed_over_at is not None
    assert (outcome.status, email.status) == ("retry", "queued")


def test_a_soft_time_limit_while_waiting_for_the_mark_stops_the_task(
    postgres,
    smtp,
    monkeypatch,
):
    """Celery's soft time limit raises in the main thread, here inside the wait for the mark's
    answer (after the dot): it must reach the task (which stops), and the row, whose message
    the server has, must not be queued again."""
    email = queue("soft-limit")
    blocker = _blocker()
    _hold_the_row_before_the_dot(
        monkeypatch, blocker, email, then=lambda: signal.setitimer(signal.ITIMER_REAL, 0.5)
    )

    def soft_limit(signum, frame):
        blocker.rollback()
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, soft_limit)
    try:
        with pytest.raises(SoftTimeLimitExceeded):
            email_deliver(email_id=email.pk)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        blocker.close()
    email.refresh_from_db()
    assert len(smtp.messages) == 1
    assert email.status == "sent"
