"""The hand-over mark, sent to PostgreSQL without waiting for its answer.

The mark must be on its way before the final "." of DATA leaves, or a worker that dies just
after the dot leaves a delivered message that looks unsent (and it is sent twice). If the worker
waited for the mark's commit before writing the dot, a death while waiting (a commit's round
trip, its WAL flush included: about 0.3 ms here) would leave a mark and no message: an email
lost. So the UPDATE is sent on a connection of its own in asynchronous mode, the dot follows at
once, and the answer is read after. PostgreSQL carries out a statement it has received even if
its client is gone, so the only window left is between two socket writes.

Used in autocommit only: inside a transaction (the normal test suite) the row is not visible to
another connection, and the mark goes through the caller's connection as a plain UPDATE.
"""

import contextlib
import functools
import logging
import os
import select
import threading
import time
from collections.abc import Callable

from django.db import connection

logger = logging.getLogger(__name__)

# How long the answer to a mark is waited for, after the dot, before the connection is dropped.
ANSWER_TIMEOUT_SECONDS = 10.0

_local = threading.local()


def mark_sent_async(sql: str, params: list) -> Callable[[], bool] | None:
    """Send `sql` (an UPDATE) on this thread's asynchronous connection and return a function that
    waits for its answer (True when it updated a row). None when the mark can't be sent this
    way: another database, a transaction in progress, or no connection (the caller then marks
    through its own connection)."""
    if (
        connection.vendor != "postgresql"
        or connection.in_atomic_block
        or not connection.get_autocommit()
    ):
        return None
    import psycopg2

    try:
        conn = _connection()
        if select.select([conn.fileno()], [], [], 0)[0]:
            # An idle connection with something to read was closed by the server (a restart,
            # idle_session_timeout, a pooler): a mark sent on it would be lost.
            _drop()
            conn = _connection()
        cursor = conn.cursor()
        cursor.execute(sql, params)
    except BaseException as exc:
        _drop()
        if not isinstance(exc, (psycopg2.Error, OSError)):
            raise  # a soft time limit, say: nothing was sent
        logger.warning("hand-over mark not sent asynchronously: %s", exc)
        return None  # the caller marks through its own connection instead

    def answer() -> bool:
        try:
            _wait(conn, deadline=time.monotonic() + ANSWER_TIMEOUT_SECONDS)
            return cursor.rowcount == 1
        except BaseException as exc:
            _drop()  # never reused with a query in progress
            if not isinstance(exc, (psycopg2.Error, OSError)):  # TimeoutError is an OSError
                raise  # a soft time limit stops the task
            logger.warning("no answer to a hand-over mark: %s", exc)
            return False

    return answer


def _connection():
    """This thread's asynchronous connection, opened on first use (and again after a fork)."""
    import psycopg2

    conn = getattr(_local, "conn", None)
    if conn is not None and (_local.pid != os.getpid() or conn.closed):
        _local.conn = conn = None
    if conn is None:
        params = {
            key: value
            for key, value in connection.get_connection_params().items()
            if key not in ("cursor_factory", "context", "prepare_threshold")
        }
        conn = psycopg2.connect(**params, async_=True)
        _wait(conn, deadline=time.monotonic() + ANSWER_TIMEOUT_SECONDS)
        _local.conn, _local.pid = conn, os.getpid()
    return conn


def _wait(conn, *, deadline: float) -> None:
    """Poll an asynchronous connection until its current operation is done."""
    import psycopg2.extensions as ext

    while True:
        state = conn.poll()
        if state == ext.POLL_OK:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("PostgreSQL did not answer in time")
        if state == ext.POLL_READ:
            select.select([conn.fileno()], [], [], left)
        elif state == ext.POLL_WRITE:
            select.select([], [conn.fileno()], [], left)
        else:
            raise RuntimeError(f"unexpected poll state {state}")


def _drop() -> None:
    conn = getattr(_local, "conn", None)
    _local.conn = None
    if conn is not None:
        with contextlib.suppress(Exception):  # a broken connection is being thrown away
            conn.close()


@functools.cache
def handed_over_sql() -> str:
    """The mark: the hand-over time of a row still being sent."""
    from mail.models import OutboxEmail

    meta = OutboxEmail._meta
    quote = connection.ops.quote_name
    column = quote(meta.get_field("handed_over_at").column)
    status = quote(meta.get_field("status").column)
    # Only model metadata goes into the text; the values are parameters.
    return (
        f"UPDATE {quote(meta.db_table)} SET {column} = %s "  # noqa: S608
        f"WHERE {quote(meta.pk.column)} = %s AND {status} = %s"
    )
