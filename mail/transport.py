"""SMTP delivery that knows when a message was handed over, over a connection kept open.

A worker can die at any instant. If it dies before the mail server has the whole message, the
email must be sent again; if it dies after, sending again would double it. The only moment that
separates the two is the final "." of the DATA command, so the connection calls a hook just
before writing it: the outbox records the hand-over there, and the sweep knows which of the two
cases a row stuck in "sending" is (see mail.services.outbox_sweep). The record is sent before
the dot and its answer read after it (mail.handover), so that no commit's round trip lies
between the two.
"""

import contextlib
import smtplib
import socket
import threading
import time
from collections.abc import Callable

from django.core.mail import get_connection
from django.core.mail.backends import smtp
from django.core.mail.message import EmailMessage

# An idle connection older than this is reopened rather than trusted.
MAX_IDLE_SECONDS = 30.0
# How long the answer to the final dot is waited for, at least (EMAIL_TIMEOUT if longer).
FINAL_REPLY_SECONDS = 40.0


class FinalAnswerTimedOut(smtplib.SMTPServerDisconnected):
    """The whole message was written and the connection stayed open, but no answer came in
    time: the server may still be checking the message (and would take another copy too), or
    may have hung and never read it (mail.services._settle weighs the two)."""


class HandoverHookMixin:
    """smtplib's DATA command, with `before_final_dot` called before the terminating dot."""

    before_final_dot: Callable[[], Callable[..., None] | None] | None = None

    def connect(self, host="localhost", port=0, source_address=None):
        reply = super().connect(host, port, source_address)
        # The body and the final dot leave in two writes; with Nagle's algorithm the dot would
        # wait for the server to acknowledge the body, which it delays (~40 ms an email).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reply

    def data(self, msg):
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if isinstance(msg, str):
            msg = smtplib._fix_eols(msg).encode("ascii")
        body = smtplib._quote_periods(msg)
        if body[-2:] != smtplib.bCRLF:
            body += smtplib.bCRLF
        self.send(body)
        # The hook may return what to call once the dot is written (mail.handover), told
        # whether the dot left: a dot that could not be written is not a hand-over.
        after = self.before_final_dot() if self.before_final_dot is not None else None
        try:
            self.send(b"." + smtplib.bCRLF)
        except BaseException:
            if after is not None:
                after(dot_written=False)
            raise
        if after is not None:
            after(dot_written=True)
        # A server may check the message before it answers: it gets longer than other replies
        # (RFC 5321 section 4.5.3.2.6 suggests minutes; the task's time limit bounds it here).
        self.sock.settimeout(max(self.timeout or 0, FINAL_REPLY_SECONDS))
        try:
            return self.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib reports a time-out as a closed connection (it closes it): tell them apart.
            if isinstance(exc.__context__, TimeoutError):
                raise FinalAnswerTimedOut(str(exc)) from exc.__context__
            raise
        finally:
            if self.sock is not None:
                self.sock.settimeout(self.timeout)


class HandoverSMTP(HandoverHookMixin, smtplib.SMTP):
    pass


class HandoverSMTPSSL(HandoverHookMixin, smtplib.SMTP_SSL):
    pass


class EmailBackend(smtp.EmailBackend):
    """Django's SMTP backend on connections that report the hand-over of each message."""

    @property
    def connection_class(self):
        return HandoverSMTPSSL if self.use_ssl else HandoverSMTP


_local = threading.local()


def _persistent_backend():
    """This thread's SMTP backend, opened once and reused while it stays fresh."""
    backend = getattr(_local, "backend", None)
    if backend is not None and time.monotonic() - _local.used_at > MAX_IDLE_SECONDS:
        drop_connection()
        backend = None
    if backend is None:
        backend = get_connection()
        backend.open()
        _local.backend = backend
    _local.used_at = time.monotonic()
    return backend


def drop_connection() -> None:
    backend = getattr(_local, "backend", None)
    _local.backend = None
    if backend is not None:
        # A broken connection is being thrown away anyway.
        with contextlib.suppress(Exception):
            backend.close()


def send(message: EmailMessage, *, on_handover: Callable[[], Callable[[], None] | None]) -> None:
    """Send one message; `on_handover` runs when the server is about to have all of it, and
    what it returns (if anything) once the final dot is written."""
    probe = get_connection()
    if not isinstance(probe, EmailBackend):
        # File, console or test backends: nothing can be half-sent, no connection to keep.
        message.connection = probe
        message.send()
        if (after := on_handover()) is not None:
            after()
        return
    handed_over = False

    def hook() -> Callable[[], None] | None:
        nonlocal handed_over
        handed_over = True
        return on_handover()

    reused = getattr(_local, "backend", None) is not None
    for last_try in (not reused, True):
        backend = _persistent_backend()
        backend.connection.before_final_dot = hook
        message.connection = backend
        try:
            message.send()
            backend.connection.before_final_dot = None
            return
        except smtplib.SMTPServerDisconnected:
            drop_connection()
            # A kept connection the server closed meanwhile: one more try on a fresh one.
            if last_try or handed_over:
                raise
        except Exception:
            drop_connection()
            raise
