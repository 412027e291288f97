"""signup_queue_size: a sign-up with the request table empty and holding 100,000 requests.

A sign-up is two parts, and both are measured in each state:
- the POST, under gunicorn (2 sync workers) loaded by wrk (8 connections), as
  signup_throughput: it stores the form as a submission and reads nothing of the requests;
- the intake, where the queue's size can tell: the duplicate check, the host lookup, the new
  request with its indexes, the decision and the emails. After each wrk run, the round's first
  200 submissions go through it in this process, one transaction each, exactly as the worker's
  task runs it; each must make its request.

The 100,000 requests sit on the sign-up site itself (20,000) and on nine other organizations'
sites. They are loaded once (COPY) and kept aside in a copy of the table, so that the states can
alternate (empty, full, full, empty, four times; 3 s of POSTs each) without stopping the server:
a change of background load hits both states alike. This host's speed varies by up to 20% from
one round to the next, hence the eight rounds. Each round starts with no submissions.
Ratios: req/s(empty) ÷ req/s(100,000 requests), and intake time per sign-up (100,000) ÷
(empty); the worse of the two is judged, target ≤ 1.1.
"""

import time

from django.db import connection

from bench.common import (
    Gunicorn,
    Result,
    analyze,
    header,
    purge_queue,
    report,
    reset_data,
    step,
)
from bench.data import requests_create, tenant_create
from bench.signup_web import WEB_ENV, checked, signup_script, signup_site, signup_wrk
from bench.wrk import WrkResult
from signup.models import SignupRequest
from signup.services import submission_process_next

NAME = "signup_queue_size"
ON_SIGNUP_SITE = 20_000
OTHER_TENANTS = 9
PER_OTHER_TENANT = 80_000 // OTHER_TENANTS + 1
ROUNDS = 8
ROUND_SECONDS = 3
INTAKE_EACH_ROUND = 200
WARMUP_SECONDS = 2
TARGET = 1.1


def _execute(*statements: str) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _load() -> int:
    """Create the requests once, and keep a copy of them aside."""
    tenant = signup_site()
    total = requests_create(tenant, ON_SIGNUP_SITE, prefix="own")
    for number in range(OTHER_TENANTS):
        other = tenant_create(f"other{number}")
        count = min(PER_OTHER_TENANT, 100_000 - total)
        total += requests_create(other, count, prefix=f"o{number}-", seed=number)
    _execute(
        "DROP TABLE IF EXISTS bench_request_stash",
        "CREATE TABLE bench_request_stash AS SELECT * FROM signup_signuprequest",
    )
    # Vacuumed now rather than by autovacuum, which otherwise wakes up for these 100,000 new
    # rows during the first round (one that holds them, 0.7x its other rounds in one run).
    analyze("bench_request_stash")
    return total


def _state(full: bool) -> None:
    """Empty (or fill) the request table, and start with no submissions."""
    _execute("TRUNCATE signup_signuprequest, signup_submission CASCADE")
    if full:
        _execute("INSERT INTO signup_signuprequest SELECT * FROM bench_request_stash")
    analyze("signup_signuprequest", "signup_submission")
    # The loads leave dirty pages behind: written now, not by a checkpoint in the middle of the
    # next round (which would slow that round's state, whichever it is).
    _execute("CHECKPOINT")


def _rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM signup_signuprequest")
        return cursor.fetchone()[0]


def _intake(count: int) -> tuple[float, bool]:
    """Take the round's oldest `count` submissions through the intake; return the seconds it
    took and whether each made its request."""
    before = SignupRequest.objects.count()
    started = time.perf_counter()
    done = 0
    while done < count and submission_process_next() is not None:
        done += 1
    seconds = time.perf_counter() - started
    made = SignupRequest.objects.count() - before
    purge_queue()  # the emails' deliveries it published: no worker runs
    if done != count or made != count:
        print(f"  !! the intake took {done} of {count} submissions and made {made} requests")
        return seconds, False
    return seconds, True


def _measure(url: str) -> tuple[dict[str, WrkResult], dict[str, float], bool]:
    script = signup_script(url)
    signup_wrk(url, script, seconds=WARMUP_SECONDS)
    _intake(INTAKE_EACH_ROUND)  # the first intake of a process loads what it imports
    totals: dict[str, WrkResult] = {}
    intake = {"empty": 0.0, "100k": 0.0}
    clean = True
    for number in range(ROUNDS):
        # empty, full, full, empty: a steady drift of background load cancels out.
        for label in ("empty", "100k") if number % 2 == 0 else ("100k", "empty"):
            _state(full=label == "100k")
            rows = _rows()
            result, stored = signup_wrk(url, script, seconds=ROUND_SECONDS)
            clean = checked(result, stored) and clean
            seconds, made = _intake(INTAKE_EACH_ROUND)
            clean = made and clean
            intake[label] += seconds
            print(
                f"  round {number + 1} {label:6} ({rows:6} requests) {result.describe()}; "
                f"intake {seconds / INTAKE_EACH_ROUND * 1e6:,.0f} µs a sign-up"
            )
            totals[label] = totals[label] + result if label in totals else result
    return totals, intake, clean


def run() -> Result:
    header(
        NAME, "sign-up POST and intake with 0 vs 100,000 requests in the table (gunicorn, wrk -c8)"
    )
    reset_data()
    with step("load 100,000 requests (COPY) and keep a copy aside"):
        total = _load()
    print(f"  {total} requests, {ON_SIGNUP_SITE} of them on the sign-up site")
    web = Gunicorn(**WEB_ENV)
    with step("start gunicorn"):
        web.start()
    try:
        totals, intake, clean = _measure(web.url)
    finally:
        web.stop()
        _execute("DROP TABLE IF EXISTS bench_request_stash")
    each = ROUNDS * INTAKE_EACH_ROUND
    for label, result in totals.items():
        print(
            f"  total   {label:6} POST {result.rps:9.1f} req/s ({result.requests} requests); "
            f"intake {intake[label] / each * 1e6:,.0f} µs a sign-up ({each} sign-ups)"
        )
    post = totals["empty"].rps / totals["100k"].rps
    intake_ratio = intake["100k"] / intake["empty"]
    print(f"  POST ratio {post:.2f}, intake ratio {intake_ratio:.2f}: the worse is judged")
    ratio = max(post, intake_ratio)
    return report(Result(NAME, ratio, f"<={TARGET}", clean and ratio <= TARGET))
