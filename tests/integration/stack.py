"""A private production-shaped stack for fault tests, every process on 127.0.0.1 and started by
the tests: a Redis server on a free port, the web app under gunicorn, a Celery worker with its
beat, and an SMTP server that can be stopped and can refuse recipients."""

import logging
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.integration.conftest import BASE_DIR, Mailbox, Worker, free_port, wait_for, worker_env


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(up, timeout=20, what="redis-server to start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


class SmtpServer:
    """aiosmtpd on a fixed port, stoppable (connections refused) and restartable."""

    def __init__(self, mailbox: Mailbox) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
        self.mailbox = mailbox
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.mailbox.down = False
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.mailbox.down = True
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class WebServer:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        handle = self.log.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "selfsignup.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--timeout",
                "60",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310
                    return True
            except urllib.error.HTTPError:
                return True  # answering, even if a dependency is down
            except OSError:
                return False

        wait_for(up, timeout=60, what="gunicorn to start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


class Browserless:
    """Sign-ups over HTTP the way a browser makes them: GET the form, POST it with the token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def sign_up(self, slug: str, **fields: str) -> tuple[int, float]:
        url = f"{self.base}/sites/{slug}/signup/"
        with self.opener.open(url, timeout=30) as page:
            html = page.read().decode()
        # Send back the form's hidden inputs (the CSRF token, the time it was shown).
        hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
        data = urllib.parse.urlencode({**hidden, **fields}).encode()
        started = time.monotonic()
        with self.opener.open(url, data=data, timeout=30) as answer:
            answer.read()
            return answer.status, time.monotonic() - started


def stack_env(*, smtp_port: int, redis_url: str) -> dict[str, str]:
    return worker_env(
        smtp_port=smtp_port,
        redis_url=redis_url,
        OUTBOX_SWEEP_AFTER_SECONDS="5",
        SUBMISSION_SWEEP_AFTER_SECONDS="5",
        SWEEP_INTERVAL_SECONDS="2",
        OUTBOX_SENDING_TIMEOUT_SECONDS="5",
        OUTBOX_RETRY_BASE_SECONDS="1",
        OUTBOX_MAX_ATTEMPTS="10",
        SIGNUP_RESEND_INTERVAL="1",
        SIGNUP_MIN_FILL_SECONDS="0",
        RATELIMIT_SIGNUP_PER_IP="100000/h",
        RATELIMIT_SIGNUP_PER_ADDRESS="100000/h",
    )


def start_worker_with_beat(env: dict[str, str]) -> Worker:
    schedule = Path(tempfile.mkdtemp(prefix="beat-")) / "schedule"
    worker = Worker(env)
    worker.extra_args = ["-B", "-s", str(schedule)]
    return worker.start()
