"""`python -m bench.signup_steps`: where the CPU of a sign-up POST goes, step by step.

Not a judged benchmark (it is not in `make bench`): it explains the sign-up throughput's ratio.
The sign-up view runs in this process through Django's WSGI handler (no gunicorn, no network
but the database's and Redis's), with each step wrapped to add up its CPU time (this thread's,
so another process's load doesn't count). The one-row and bare baselines are timed the same
way, whole. Steps nest as they run: the INSERT includes the wake-up, which runs on its commit.
"""

import collections
import functools
import io
import secrets
import sys
import time
import urllib.parse
from collections.abc import Callable

from bench.common import header, reset_data, setup

WARMUP = 300
COUNT = 3000

spent: collections.Counter[str] = collections.Counter()


def _timed(owner: object, name: str, step: str) -> None:
    """Replace `owner.name` by a wrapper that adds its CPU time to `step`."""
    function = getattr(owner, name)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.thread_time_ns()
        try:
            return function(*args, **kwargs)
        finally:
            spent[step] += time.thread_time_ns() - started

    setattr(owner, name, wrapper)


def _instrument() -> None:
    from django.middleware.csrf import CsrfViewMiddleware

    from signup import services, views
    from signup.forms import SignupForm

    _timed(views, "_site", "the site's row")
    _timed(SignupForm, "is_valid", "the form")
    _timed(views, "signup_limited", "the rate limits")
    _timed(services, "submission_receive", "the INSERT (and the wake-up)")
    _timed(services, "submissions_wake", "the wake-up")
    _timed(views, "thanks_page", "the answer page")
    _timed(CsrfViewMiddleware, "process_view", "the CSRF check")


def _call(app, method: str, path: str, body: bytes = b"", cookie: str = ""):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_COOKIE": cookie,
    }
    if method == "POST":
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    answer = {}
    body = b"".join(app(environ, lambda status, headers: answer.update(s=status, h=headers)))
    return answer["s"], answer["h"], body


def _signup_poster(app) -> Callable[[int], None]:
    from bench.signup_web import SIGNUP_PATH
    from bench.wrk import form_tokens_in

    _status, headers, page = _call(app, "GET", SIGNUP_PATH)
    cookie, hidden = form_tokens_in([v for k, v in headers if k == "Set-Cookie"], page.decode())
    form = urllib.parse.urlencode({**hidden, "website": "", "first_name": "A", "last_name": "L"})
    cookie = f"csrftoken={cookie}"

    def post(number: int) -> None:
        email = f"steps-{secrets.token_hex(4)}-{number}%40signup.example"
        status, _headers, _body = _call(
            app, "POST", SIGNUP_PATH, f"{form}&email={email}".encode(), cookie
        )
        if not status.startswith("200"):
            raise RuntimeError(f"a sign-up answered {status}")

    return post


def _cpu_each(function: Callable[[int], None]) -> float:
    """Microseconds of this thread's CPU per call, after a warm-up."""
    for number in range(WARMUP):
        function(number)
    spent.clear()
    started = time.thread_time_ns()
    for number in range(COUNT):
        function(number)
    return (time.thread_time_ns() - started) / COUNT / 1000


def main() -> int:
    import os

    # signup_throughput's WEB_ENV, set before Django reads its settings (the modules that
    # define it need Django set up first).
    os.environ["RATELIMIT_SIGNUP_PER_IP"] = "1000000/h"
    setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    from bench.baseline_urls import BARE_PATH, ONE_ROW_PATH
    from bench.signup_web import baseline_table, signup_site

    header("signup_steps", f"CPU per sign-up POST by step, in-process, {COUNT} POSTs")
    reset_data()
    baseline_table()
    signup_site()
    _instrument()
    app = WSGIHandler()
    post = _signup_poster(app)
    time.sleep(getattr(settings, "SIGNUP_MIN_FILL_SECONDS", 0) + 0.2)
    for label, path in [("bare view", BARE_PATH), ("one-row view", ONE_ROW_PATH)]:
        print(f"  {label:32} {_cpu_each(lambda _n, p=path: _call(app, 'GET', p)):6.0f} µs")
    total = _cpu_each(post)
    print(f"  {'sign-up':32} {total:6.0f} µs, of which:")
    for step, nanoseconds in spent.most_common():
        print(f"    {step:30} {nanoseconds / COUNT / 1000:6.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
