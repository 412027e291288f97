"""Processes the integration tests start themselves: an SMTP server and Celery workers.

Everything listens on 127.0.0.1 and is stopped when the tests end.
"""

import contextlib
import email
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from tests.conftest import require_services

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], *, timeout: float = 30, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")


class Mailbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse: set[str] = set()  # recipients answered with a permanent 550
        self.down = False  # while True, connections still open are told to go away (421)
        self._lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        if self.down:
            return "421 4.3.2 Service shutting down"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if address in m["To"]]

    def keys(self) -> list[str]:
        """Each message's outbox key, found by its Message-ID: a digest of the key, at the host
        of the sender's SITE_URL (the worker's, not this process's)."""
        from mail.models import OutboxEmail
        from mail.rendering import message_id

        def digest(value: str) -> str:
            return "".join(value.split()).partition("@")[0]

        with self._lock:
            ids = [digest(m["Message-ID"]) for m in self.messages]
        rows = {digest(message_id(row)): row.idempotency_key for row in OutboxEmail.objects.all()}
        return [rows.get(found, found) for found in ids]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def database_url() -> str:
    """The URL of the *test* database, for processes started by the tests."""
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host, port = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


def body_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


class Worker:
    """A Celery worker process (solo pool) with its own environment and log file."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None
        self.extra_args: list[str] = []

    def start(self) -> "Worker":
        offset = self.log.stat().st_size
        handle = self.log.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "selfsignup",
                "worker",
                "-P",
                "solo",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
                *self.extra_args,
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            # Its own process group: stopping it also stops the beat it may have forked.
            start_new_session=True,
        )
        wait_for(
            lambda: "ready." in self.log.read_text()[offset:] or self.process.poll() is not None,
            timeout=60,
            what="the Celery worker to start",
        )
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited:\n{self.log.read_text()}")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the worker's whole process group and wait until every process is gone."""
        if self.process is None:
            return
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            self.process.wait()
        # Children (the embedded beat) may outlive the main process by a moment.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def worker_env(*, smtp_port: int, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    from django.conf import settings

    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url or settings.REDIS_URL,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        SITE_URL=settings.SITE_URL,
        OUTBOX_RETRY_BASE_SECONDS="1",
        CONN_MAX_AGE="0",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def celery_worker(smtp_server, django_db_setup, django_db_blocker) -> Iterator[Worker]:
    """A real worker on the REDIS_URL broker, delivering to the test SMTP server."""
    with django_db_blocker.unblock():
        require_services()
        from selfsignup.celery import app

        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)
        worker = Worker(worker_env(smtp_port=smtp_server[1])).start()
    yield worker
    worker.stop()
