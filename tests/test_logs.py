"""Structured logs with a request id that follows the work into its tasks."""

import json
import logging
import runpy
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings

from selfsignup.logs import JsonFormatter, RequestIdFilter, request_id
from tests.helpers import human


def test_every_response_carries_a_request_id(client, site):
    first = client.get(f"/sites/{site.slug}/")
    second = client.get(f"/sites/{site.slug}/")
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]
    kept = client.get(f"/sites/{site.slug}/", HTTP_X_REQUEST_ID="lb-1234567890")
    assert kept["X-Request-ID"] == "lb-1234567890"
    replaced = client.get(f"/sites/{site.slug}/", HTTP_X_REQUEST_ID="bad\nid")
    assert replaced["X-Request-ID"] != "bad\nid"


def test_json_lines_name_the_request(caplog):
    token = request_id.set("req-42")
    try:
        record = logging.LogRecord("signup", logging.INFO, __file__, 1, "hello %s", ("é",), None)
        RequestIdFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "hello é" and line["request_id"] == "req-42"
    assert line["level"] == "INFO" and line["logger"] == "signup"


def test_answers_django_logs_after_the_middleware_name_the_request(client, site, caplog):
    """Django logs a 404 (or 409, 429, 503) once the middleware has returned."""
    caplog.set_level(logging.WARNING, logger="django.request")
    response = client.get("/sites/no-such-site/")
    assert response.status_code == 404
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    RequestIdFilter().filter(record)  # as the handler does, outside the request
    assert record.request_id == response["X-Request-ID"]


@pytest.mark.django_db(transaction=True)
def test_tasks_log_with_the_request_id_that_enqueued_them(client, site, caplog):
    """Real commits: the enqueue happens inside the request, as in production."""
    caplog.set_level(logging.INFO)
    response = client.post(
        f"/sites/{site.slug}/signup/",
        human({"email": "log@example.net", "first_name": "L", "last_name": "G"}),
        HTTP_X_REQUEST_ID="trace-abcdef12",
    )
    assert response["X-Request-ID"] == "trace-abcdef12"
    task_lines = [r for r in caplog.records if r.name == "celery.app.trace"]
    assert task_lines and all(r.request_id == "trace-abcdef12" for r in task_lines)


def test_gunicorn_access_lines_stay_one_json_object_whatever_the_path():
    config = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    logger = object.__new__(config["JsonAccessLogger"])
    logger._access_log_enabled = True  # what setup() computes from --access-logfile
    logger.access_log = mock.Mock()
    atoms = {"t": "[now]", "{x-request-id}o": "abc", "m": "GET", "U": '/x\\\n{"level": 1}'}
    with mock.patch.object(config["Logger"], "atoms", return_value=atoms):
        logger.access(None, None, {}, None)
    (call,) = logger.access_log.info.call_args_list
    line = call.args[0] % call.args[1:]
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["path"] == '/x\\\n{"level": 1}' and entry["request_id"] == "abc"
    assert entry["status"] == "-"
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None
    atoms |= {"s": "200", "B": 512, "M": 3}
    with mock.patch.object(config["Logger"], "atoms", return_value=atoms):
        logger.access(None, None, {}, None)
    entry = json.loads(logger.access_log.info.call_args.args[1])
    assert (entry["status"], entry["bytes"], entry["duration_ms"]) == (200, 512, 3)


@pytest.mark.parametrize(("level", "expected"), [(None, "INFO"), ("warning", "WARNING")])
def test_gunicorns_own_lines_follow_log_level(monkeypatch, level, expected):
    if level is None:
        monkeypatch.delenv("LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("LOG_LEVEL", level)
    config = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    logging_config = config["logconfig_dict"]
    assert logging_config["root"]["level"] == expected
    assert logging_config["loggers"]["gunicorn.error"]["level"] == expected
    assert logging_config["loggers"]["gunicorn.access"]["level"] == "INFO"  # every request


def test_link_tokens_never_reach_the_logs(client, site):
    """Whoever reads the logs can't use a confirmation or activation link: access lines and
    Django's own lines (a bad link's 400, a confirm link's 404) carry no token."""
    from selfsignup.logs import LinkTokenFilter, redact_links

    confirm = f"/sites/{site.slug}/signup/confirm/secret-token-1/"
    activate = f"/sites/{site.slug}/activate/secret-token-2/?x=1"
    assert "secret" not in redact_links(f"GET {confirm} then {activate}")
    record = logging.LogRecord(
        "django.request", logging.WARNING, "", 0, "%s: %s", ("Bad", confirm), None
    )
    LinkTokenFilter().filter(record)
    assert record.getMessage() == f"Bad: /sites/{site.slug}/signup/confirm/[redacted]/"
    config = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    logger = object.__new__(config["JsonAccessLogger"])
    logger._access_log_enabled = True
    logger.access_log = mock.Mock()
    with mock.patch.object(config["Logger"], "atoms", return_value={"t": "[now]", "U": activate}):
        logger.access(None, None, {}, None)
    (call,) = logger.access_log.info.call_args_list
    assert "secret" not in call.args[0] % call.args[1:]
    # The handler that writes the project's lines applies the filter, also to the development
    # server's request lines.
    assert "link_tokens" in django_settings.LOGGING["handlers"]["console"]["filters"]
    handlers = logging.getLogger("django.server").handlers
    assert any(any(isinstance(f, LinkTokenFilter) for f in h.filters) for h in handlers)


def _writers(name: str) -> list[logging.Handler]:
    """The handlers a record of logger `name` reaches (the test runner's own left out)."""
    logger, found = logging.getLogger(name), []
    while logger is not None:
        found += [
            h
            for h in logger.handlers
            if not type(h).__module__.startswith("_pytest") and type(h) is not logging.NullHandler
        ]
        logger = logger.parent if logger.propagate else None
    return found


@pytest.mark.parametrize("name", ["django.request", "django.server", "celery.app.trace"])
def test_every_handler_of_django_and_celery_lines_redacts_link_tokens(name):
    """Django's own handlers (its console one writes when DEBUG is on, as under `make run`)
    would print a bad link's path as it came: only the project's handler writes these lines."""
    from selfsignup.logs import LinkTokenFilter

    writers = _writers(name)
    assert writers and all(
        any(isinstance(f, LinkTokenFilter) for f in handler.filters) for handler in writers
    ), writers


def test_a_malformed_log_call_does_not_raise_into_the_caller():
    from selfsignup.logs import LinkTokenFilter

    record = logging.LogRecord("x", logging.WARNING, "", 0, "%s and %s", ("one",), None)
    assert LinkTokenFilter().filter(record) is True


@pytest.mark.django_db(transaction=True)
def test_one_intake_run_carries_each_sign_ups_own_request_id(site, monkeypatch):
    """A run drains several sign-ups: the emails each one enqueues carry its own request's id,
    not the id of the sign-up that woke the run."""
    from django.db import transaction

    from mail import services as mail_services
    from signup import services
    from tests.test_signup_flow import configure

    configure(site, require_confirmation=True)
    seen = []

    def enqueue_on_commit(task, *args):
        transaction.on_commit(lambda: seen.append(request_id.get()))

    monkeypatch.setattr(mail_services, "enqueue_on_commit", enqueue_on_commit)
    monkeypatch.setattr(services, "submissions_wake", lambda: False)
    for rid in ["rid-first-sign-up", "rid-second-sign-up"]:
        token = request_id.set(rid)
        services.submission_receive(site=site, email=f"{rid}@example.net", fields={}, language="en")
        request_id.reset(token)
    assert services.submissions_process() == 2
    assert seen == ["rid-first-sign-up", "rid-second-sign-up"]
