"""Enqueue Celery tasks after the current transaction commits, without ever failing the caller.

The database row is the source of truth: when the broker is unreachable the publish is logged
and given up, and a periodic sweep enqueues the row again later.

A task that drains a table (rather than taking one id) is published through `wake`: one run
waiting in the queue serves every row committed before it starts, so a burst of rows costs one
cache round trip each instead of one broker message each.
"""

import logging

from celery import Task
from django.core.cache import cache
from django.db import transaction
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from selfsignup.logs import request_id

logger = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, RedisError, ConnectionError, OSError)


def enqueue(task: Task, *args: object) -> bool:
    """Publish `task(*args)` now; return False (and log) when the broker can't take it."""
    try:
        # The request id travels with the message, so the worker's logs name the same request.
        task.apply_async(args=args, headers={"request_id": request_id.get()})
    except BROKER_ERRORS as exc:
        logger.warning("broker unavailable, %s%r left for the sweep: %s", task.name, args, exc)
        return False
    return True


def enqueue_on_commit(task: Task, *args: object) -> None:
    """Publish `task(*args)` once the surrounding transaction has committed."""
    transaction.on_commit(lambda: enqueue(task, *args))


def backoff_delay(base: float, attempts: int, *, cap: float = 3600.0) -> float:
    """Seconds before the next try: `base` after the first failure, doubling, at most `cap`."""
    # The exponent stops growing long before it could make a huge number.
    return min(base * 2 ** min(max(attempts - 1, 0), 32), cap)


def wake(task: Task, *, key: str, ttl: int) -> bool:
    """Publish `task()` unless a run published under `key` has not started yet.

    The task calls `woken(key)` first thing, then looks for work: a row committed before a
    publish skipped here is therefore seen by the run that is waiting. When the publish fails
    the key is cleared; it also expires after `ttl` seconds, in case a waiting run was lost.
    Returns True when it published.
    """
    # False: a run is already waiting. None: the cache is unreachable (so is the broker, which
    # is the same Redis): the sweep finds the row later.
    added = cache.add(key, 1, ttl)
    if added is None:
        logger.warning("cache unavailable, %s left for the sweep", task.name)
    if not added:
        return False
    if enqueue(task):
        return True
    cache.delete(key)
    return False


def woken(key: str) -> None:
    """Called by a drain task as it starts: rows committed from now on publish a new run."""
    cache.delete(key)
