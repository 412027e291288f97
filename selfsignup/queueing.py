"""Enqueue Celery tasks after the current transaction commits, without ever failing the caller.

The database row is the source of truth: when the broker is unreachable the publish is logged
and given up, and a periodic sweep enqueues the row again later.
"""

import logging

from celery import Task
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
