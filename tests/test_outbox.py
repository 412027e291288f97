"""The outbox (SPEC section 8): written with the change, delivered once, retried, swept."""

import smtplib
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from mail.models import EmailKind, OutboxEmail
from mail.rendering import message_id
from mail.services import email_deliver, email_queue, outbox_sweep, retry_delay

CONTEXT = {"site_name": "Acme", "first_name": "Nora", "site_url": "http://testserver/sites/a/"}


def queue(cause="test:1", to="nora@example.net", kind=EmailKind.REQUEST_RECEIVED):
    return email_queue(kind=kind, to=to, context=CONTEXT, language="en", cause=cause)


def test_queue_writes_a_row_and_delivers_after_commit(db, outbox, run_commits):
    with run_commits() as callbacks:
        email = queue()
        assert outbox == []  # nothing sent before the commit
    assert len(callbacks) >= 1
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENT and email.sent_at and email.attempts == 1
    assert len(outbox) == 1
    assert outbox[0].to == ["nora@example.net"]
    assert outbox[0].extra_headers["Message-ID"] == message_id(email)
    # The key names rows by id (they count every organization's): it is not sent.
    assert "X-Idempotency-Key" not in outbox[0].extra_headers


def test_same_cause_kind_and_recipient_is_one_row(db, outbox, run_commits):
    with run_commits():
        first = queue()
        second = queue(to="NORA@example.net")
    assert first.pk == second.pk
    assert OutboxEmail.objects.count() == 1 and len(outbox) == 1


def test_long_addresses_keep_keys_apart(db, outbox, run_commits):
    """Two long addresses alike in their first 190 characters, each sent the same email twice:
    two rows, and the key still tells the kinds apart."""
    long_local = "a" * 180
    with run_commits():
        rows = [
            queue(cause="site:1:bucket", to=f"{long_local}{tail}@example.net")
            for tail in ["x", "y", "x", "y"]
        ]
    assert rows[0].pk == rows[2].pk and rows[1].pk == rows[3].pk and rows[0].pk != rows[1].pk
    assert all(len(r.idempotency_key) <= 200 for r in rows)
    assert rows[0].idempotency_key.startswith(f"{EmailKind.REQUEST_RECEIVED}:")
    assert len(outbox) == 2


def test_rolled_back_transaction_sends_nothing(transactional_db, outbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue()
        raise RuntimeError("the change failed")
    assert not OutboxEmail.objects.exists()
    assert outbox == []


def test_delivery_is_idempotent(db, outbox):
    email = queue()  # not committed callbacks: deliver by hand
    assert email_deliver(email_id=email.pk).status == "sent"
    assert email_deliver(email_id=email.pk).status == "skipped"
    assert len(outbox) == 1


def _failing_send(exc):
    def send(self, fail_silently=False):
        raise exc

    return send


def test_transient_failure_is_retried_with_backoff(db, outbox, monkeypatch, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    email = queue()
    monkeypatch.setattr(
        "django.core.mail.EmailMultiAlternatives.send",
        _failing_send(smtplib.SMTPServerDisconnected("gone")),
    )
    outcome = email_deliver(email_id=email.pk)
    assert outcome.status == "retry" and 30 <= outcome.retry_in <= 60
    email.refresh_from_db()
    assert email.status == "queued" and email.attempts == 1
    assert "SMTPServerDisconnected" in email.last_error
    assert email.next_attempt_at > timezone.now()


def test_a_retry_the_broker_cannot_take_leaves_the_row_for_the_sweep(
    db, outbox, monkeypatch, caplog
):
    """In a worker, the retry is a new broker message; with the broker away Celery raises
    Reject, and the row stays queued with its backoff (the sweep sends it later)."""
    from kombu.exceptions import OperationalError

    from mail.tasks import deliver_email

    email = queue()
    monkeypatch.setattr(
        "django.core.mail.EmailMultiAlternatives.send",
        _failing_send(smtplib.SMTPServerDisconnected("gone")),
    )
    monkeypatch.setattr(
        "celery.canvas.Signature.apply_async", _failing_send(OperationalError("broker away"))
    )
    deliver_email.push_request(id="t", retries=0, is_eager=False, called_directly=False)
    try:
        assert deliver_email.run(email.pk) == "retry"
    finally:
        deliver_email.pop_request()
    email.refresh_from_db()
    assert email.status == "queued" and email.attempts == 1
    assert "could not schedule the retry" in caplog.text


def test_last_try_ends_in_failed(db, outbox, monkeypatch, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    email = queue()
    monkeypatch.setattr(
        "django.core.mail.EmailMultiAlternatives.send", _failing_send(TimeoutError("slow"))
    )
    assert email_deliver(email_id=email.pk).status == "retry"
    OutboxEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())  # now due
    assert email_deliver(email_id=email.pk).status == "failed"
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 2)


def test_permanent_5xx_fails_at_once(db, outbox, monkeypatch):
    email = queue()
    refused = smtplib.SMTPRecipientsRefused({"nora@example.net": (550, b"no such user")})
    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", _failing_send(refused))
    assert email_deliver(email_id=email.pk).status == "failed"
    email.refresh_from_db()
    assert email.attempts == 1 and "550" in email.last_error


@pytest.mark.parametrize(
    ("refusal", "outcome"),
    [
        (smtplib.SMTPDataError(554, b"message refused"), "failed"),
        (smtplib.SMTPRecipientsRefused({"nora@example.net": (451, b"later")}), "retry"),
        (
            smtplib.SMTPRecipientsRefused({"nora@example.net": (550, b"5.1.1 no such user")}),
            "failed",
        ),
        # A relay refusing to relay for us: its configuration, not this address.
        (
            smtplib.SMTPRecipientsRefused(
                {"nora@example.net": (554, b"5.7.1 Relay access denied")}
            ),
            "retry",
        ),
        # The relay refusing us, not this message: an operator fixes it, every email waits.
        (smtplib.SMTPSenderRefused(530, b"5.7.0 Authentication required", "x@y.z"), "retry"),
        (smtplib.SMTPConnectError(554, b"no service"), "retry"),
        (smtplib.SMTPHeloError(501, b"bad HELO"), "retry"),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "retry"),
    ],
)
def test_only_a_refusal_of_the_message_or_its_recipient_is_final(
    db, outbox, monkeypatch, refusal, outcome
):
    email = queue()
    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", _failing_send(refusal))
    assert email_deliver(email_id=email.pk).status == outcome


def test_backoff_grows_and_has_jitter(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 10
    first = [retry_delay(1) for _ in range(50)]
    third = [retry_delay(3) for _ in range(50)]
    assert min(first) >= 10 and max(first) <= 20
    assert min(third) >= 40 and max(third) <= 50
    assert len(set(first)) > 1


def test_sweep_reenqueues_stale_and_stuck_rows(db, outbox, run_commits):
    stale = queue(cause="stale")
    stuck = queue(cause="stuck")
    fresh = queue(cause="fresh")
    OutboxEmail.objects.filter(pk=stale.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    OutboxEmail.objects.filter(pk=stuck.pk).update(
        status="sending", sending_started_at=timezone.now() - timedelta(hours=1)
    )
    with run_commits():
        assert outbox_sweep() == 2
    assert set(OutboxEmail.objects.filter(status="sent").values_list("pk", flat=True)) == {
        stale.pk,
        stuck.pk,
    }
    assert OutboxEmail.objects.get(pk=fresh.pk).status == "queued"


def test_subject_is_one_line_whatever_the_data(db, outbox):
    email = email_queue(
        kind=EmailKind.ADMIN_NEW_REQUEST,
        to="ana@acme.example",
        context={
            "site_name": "Acme\r\nBcc: victim@example.org",
            "requester_name": "Eve",
            "requester_email": "eve@example.net\nX-Injected: 1",
            "request_url": "http://testserver/hub/alerts/requests/1/",
            "queue_url": "http://testserver/hub/alerts/requests/",
        },
        language="en",
        cause="inject",
    )
    email_deliver(email_id=email.pk)
    message = outbox[0].message()
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "\n" not in outbox[0].subject


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("kind", EmailKind.values)
def test_each_subject_carries_the_name_of_its_email(kind, language):
    from django.utils import translation

    from mail.rendering import render_email

    context = {"site_name": "Ben & Jerry's", "requester_email": "o'brien@example.net"}
    subject = render_email(kind=kind, context=context, language=language).subject
    with translation.override(language):
        name = str(EmailKind(kind).label)
    # A subject is plain text: nothing in it is escaped for HTML.
    assert name in subject and "Ben & Jerry's" in subject
    assert "&amp;" not in subject and "&#x27;" not in subject


def test_a_try_comes_only_when_it_is_due(db, outbox, settings):
    """A delivery message that comes again early (a batch redelivered after its worker was
    killed, say) finds the row not due: the tries and the backoff are not used up."""
    import smtplib
    from unittest import mock

    settings.OUTBOX_MAX_ATTEMPTS = 6
    email = queue()
    with mock.patch("mail.transport.send", side_effect=smtplib.SMTPServerDisconnected("down")):
        outcomes = [email_deliver(email_id=email.pk).status for _ in range(6)]
    assert outcomes == ["retry", *["skipped"] * 5]
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("queued", 1)
    OutboxEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert email_deliver(email_id=email.pk).status == "sent"


def test_the_soft_time_limit_ends_a_batch_and_hands_the_rest_on(db, outbox):
    from unittest import mock

    from celery.exceptions import SoftTimeLimitExceeded

    from mail.tasks import deliver_emails

    ids = [queue(cause=f"batch-{i}").pk for i in range(5)]
    tried = []

    def slow_send(message, on_handover):
        tried.append(message.to)
        raise SoftTimeLimitExceeded()

    with (
        mock.patch("mail.transport.send", side_effect=slow_send),
        mock.patch.object(deliver_emails, "apply_async") as handed_on,
    ):
        deliver_emails.apply(args=(ids,))
    assert len(tried) == 1
    handed_on.assert_called_once_with((ids[1:],))
    first = OutboxEmail.objects.get(pk=ids[0])
    assert first.status == OutboxEmail.Status.QUEUED and first.attempts == 1


def test_message_ids_hold_for_retries_and_differ_between_installations(db, settings):

    settings.SITE_URL = "https://signup.example.com"
    email = queue(cause="request:1:confirm")
    first = message_id(email)
    assert first == message_id(email) and first.endswith("@signup.example.com>")
    settings.SECRET_KEY = "another-installation-" + "k" * 50
    assert message_id(email) != first


def test_a_multi_line_rejection_reason_keeps_its_lines_in_html(db):
    from mail.rendering import render_email

    rendered = render_email(
        kind=EmailKind.REQUEST_DECLINED,
        context={"site_name": "Acme", "reason": "First line.\nSecond <line>."},
        language="en",
    )
    assert "First line.<br>Second &lt;line&gt;." in rendered.html
