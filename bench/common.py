"""Shared helpers of the benchmarks: environment and database setup, processes started on free
ports of 127.0.0.1 (gunicorn, a Celery worker, an SMTP server), percentiles and printing.

Everything runs against a dedicated database (`selfsignup_bench` unless DATABASE_URL names
another whose name contains "bench") and Redis DB 1; the benchmarks truncate that database's
tables, so they refuse to run on any other.
"""

import contextlib
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/selfsignup_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
SETTINGS_MODULE = "bench.settings"
# The apps whose tables the benchmarks empty between runs.
DATA_APPS = ("orgs", "sites", "signup", "alerts", "mail", "sessions")


# --- Environment and database -----------------------------------------------------------------


def configure_environment() -> None:
    """Production-like settings (DEBUG off, a real key), plain HTTP on 127.0.0.1."""
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    os.environ.setdefault("SITE_URL", "http://127.0.0.1:8000")
    # The benchmarks speak plain HTTP to 127.0.0.1; production sits behind a TLS proxy.
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    database = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    if not database.scheme.startswith("postgres") or "bench" not in database.path:
        raise SystemExit(
            f"Benchmarks empty their database's tables: DATABASE_URL must name a PostgreSQL "
            f"database whose name contains 'bench' (got {database.path.lstrip('/')!r})."
        )


def ensure_database() -> None:
    """Create the benchmark database when it is missing."""
    import psycopg2
    from psycopg2 import sql

    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    name = urllib.parse.unquote(url.path.lstrip("/"))
    connection = psycopg2.connect(
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        user=urllib.parse.unquote(url.username or "postgres"),
        password=urllib.parse.unquote(url.password or "") or None,
        dbname="postgres",
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created database {name}")
    finally:
        connection.close()


_ready = False


def setup() -> None:
    """Environment, database, Django, migrations, static files manifest: once per process."""
    global _ready
    if _ready:
        return
    configure_environment()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    _ready = True


def reset_data() -> None:
    """Empty the product's tables (and the baseline table) and the Celery queue."""
    from django.apps import apps
    from django.db import connection

    tables = set()
    for label in DATA_APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            tables.add(model._meta.db_table)
    existing = set(connection.introspection.table_names())
    wanted = sorted(t for t in tables | {"bench_row"} if t in existing)
    with connection.cursor() as cursor:
        quoted = ", ".join(connection.ops.quote_name(t) for t in wanted)
        cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    purge_queue()


def analyze(*tables: str) -> None:
    """After a bulk load, what autovacuum would do shortly: refresh the planner's statistics,
    and move the new entries of GIN indexes from their pending list into the index proper (the
    planner rightly avoids an index whose pending list is long)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")


def purge_queue() -> int:
    """Drop the messages waiting in the benchmarks' Celery queue (Redis DB 1)."""
    from selfsignup.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(app.conf.task_default_queue) or 0


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


# --- Processes on 127.0.0.1 ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def _log_file(prefix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=f"bench-{prefix}-", suffix=".log")
    os.close(handle)
    return Path(name)


def _stop(process: subprocess.Popen | None, *, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class Gunicorn:
    """The web app under gunicorn (sync workers), like production, on a free port."""

    def __init__(self, *, workers: int = 2, **env: str) -> None:
        self.port = free_port()
        self.workers = workers
        self.env = subprocess_env(**env)
        self.log = _log_file("gunicorn")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Gunicorn":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "selfsignup.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "sync",
            "--timeout",
            "60",
        ]
        with self.log.open("a") as handle:
            self.process = subprocess.Popen(
                command, cwd=BASE_DIR, env=self.env, stdout=handle, stderr=subprocess.STDOUT
            )
        try:
            wait_for(self._healthy, timeout=60, what="gunicorn to answer GET /healthz with 200")
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{_tail(self.log)}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:  # noqa: S310
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class CeleryWorker:
    """One Celery worker process with the solo pool (one task at a time)."""

    def __init__(self, **env: str) -> None:
        self.env = subprocess_env(**env)
        self.log = _log_file("celery")
        self.process: subprocess.Popen | None = None

    def start(self) -> "CeleryWorker":
        command = [
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
            f"bench-{os.getpid()}@%h",
        ]
        with self.log.open("a") as handle:
            self.process = subprocess.Popen(
                command, cwd=BASE_DIR, env=self.env, stdout=handle, stderr=subprocess.STDOUT
            )
        try:
            wait_for(self._ready, timeout=60, what="the Celery worker to start")
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited:\n{_tail(self.log)}")
        return "ready." in self.log.read_text(errors="replace")

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> "CeleryWorker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _CountingHandler:
    def __init__(self) -> None:
        self.messages = 0
        self.recipients = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self.messages += 1
            self.recipients += len(envelope.rcpt_tos)
        return "250 OK"


class SmtpSink:
    """An aiosmtpd server in a thread of this process that counts what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _CountingHandler()
        self.controller = None

    @property
    def received(self) -> int:
        return self.handler.messages

    def __enter__(self) -> "SmtpSink":
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.controller is not None:
            self.controller.stop()


# --- Figures and results ---------------------------------------------------------------------


# --- CPU time by process -----------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu(pid: str) -> tuple[str, int, float] | None:
    """A process's name, parent and CPU seconds (user + system) from /proc, or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class CpuMeter:
    """CPU seconds spent by the web app (a gunicorn master and its workers), PostgreSQL, Redis
    and the load generator (wrk, a finished child of this process), between two readings.

    Everything runs on the same cores, so where a request's CPU goes is what its throughput is
    made of. Linux only; elsewhere every figure is 0."""

    GROUPS = ("web", "PostgreSQL", "Redis", "wrk")

    def __init__(self, web_pid: int) -> None:
        self.web_pid = web_pid

    def reading(self) -> dict[str, dict[str, float]]:
        processes: dict[str, dict[str, float]] = {group: {} for group in self.GROUPS}
        proc = Path("/proc")
        if not proc.is_dir():
            return processes
        for entry in proc.iterdir():
            if not entry.name.isdigit() or (info := _process_cpu(entry.name)) is None:
                continue
            name, parent, seconds = info
            if int(entry.name) == self.web_pid or parent == self.web_pid:
                processes["web"][entry.name] = seconds
            elif name.startswith("postgres"):
                processes["PostgreSQL"][entry.name] = seconds
            elif name.startswith("redis-server"):
                processes["Redis"][entry.name] = seconds
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        processes["wrk"]["children"] = usage.ru_utime + usage.ru_stime
        return processes

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds by group between two readings (a process that started between them
        counts from 0; one that ended is left out)."""
        return {
            group: sum(
                seconds - before[group].get(pid, 0.0) for pid, seconds in after[group].items()
            )
            for group in CpuMeter.GROUPS
        }


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (fraction 0.5 is the median)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


@dataclass(frozen=True)
class Result:
    name: str
    ratio: float
    target: str
    passed: bool

    @property
    def line(self) -> str:
        verdict = "PASS" if self.passed else "MISS"
        return f"RESULT {self.name}: ratio={self.ratio:.2f} target={self.target} {verdict}"


def header(name: str, what: str) -> None:
    print(f"\n=== {name}: {what}", flush=True)


def report(result: Result) -> Result:
    print(result.line, flush=True)
    return result


@contextlib.contextmanager
def step(text: str):
    """Print what is being prepared and how long it took."""
    print(f"  {text} ...", end="", flush=True)
    started = time.perf_counter()
    yield
    print(f" {time.perf_counter() - started:.1f}s", flush=True)
