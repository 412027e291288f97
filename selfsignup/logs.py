"""Structured logs: one JSON object a line, each carrying the id of the request (or task) that
wrote it, so that a sign-up can be followed from the web process into the workers."""

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.views import debug

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# An id from the load balancer is kept if it looks like one; anything else is replaced.
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class RequestIdMiddleware:
    """Take X-Request-ID from the proxy (or make one), expose it to logs and the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        # Kept on the request too: Django logs a 4xx or 5xx answer after the middleware is done.
        request.request_id = rid
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


# The tokens of confirmation and activation links: whoever reads a log must not be able to use
# one (a 404 of a confirm link is logged with its path, and so is every access line).
_LINK_TOKEN = re.compile(r"(/(?:signup/confirm|activate)/)[^/?#\s\"]+")


def redact_links(text: str) -> str:
    return _LINK_TOKEN.sub(r"\1[redacted]", text)


class LinkTokenFilter(logging.Filter):
    """Replace the tokens of links in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a malformed call: the handler reports it, as without this filter
        redacted = redact_links(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = request_id.get() or getattr(request, "request_id", "")
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", ""):
            entry["request_id"] = record.request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_task_tokens: dict[str, contextvars.Token] = {}


def bind_task_request_id(task_id: str | None = None, task=None, **_kwargs) -> None:
    """Celery `task_prerun`: a task logs with the id of the web request that enqueued it
    (sent along as a message header), or else with its own task id."""
    inherited = None
    if task is not None:
        headers = getattr(task.request, "headers", None) or {}
        inherited = getattr(task.request, "request_id", None) or headers.get("request_id")
    _task_tokens[task_id or ""] = request_id.set(inherited or task_id or "")


def unbind_task_request_id(task_id: str | None = None, **_kwargs) -> None:
    """Celery `task_postrun`: give back the id of whatever ran the task (a request, in-process)."""
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        request_id.reset(token)


class ExceptionReporter(debug.ExceptionReporter):
    """Django's, except that a body it can't read (a form not in UTF-8) is left out of the error
    report rather than raising again while the report is made: with DEBUG on (`make run`) that
    turned the 400 such a POST gets into a 500."""

    def get_traceback_data(self) -> dict:
        if self.request is not None:
            try:
                self.request.POST  # noqa: B018 (read it, or learn that it can't be read)
            except BadRequest:
                self.request._mark_post_parse_error()  # an empty form, as Django does for its own
        return super().get_traceback_data()
