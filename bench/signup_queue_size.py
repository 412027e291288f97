"""signup_queue_size: sign-up POSTs per second with the request table empty and holding 100,000
requests, under gunicorn (2 sync workers) loaded by wrk (8 connections), as signup_throughput.

The 100,000 requests sit on the sign-up site itself (20,000) and on nine other organizations'
sites. They are loaded once (COPY) and kept aside in a copy of the table, so that the states can
alternate (empty, full, full, empty, four times; 3 s each) without stopping the server: a change
of background load hits both states alike. This host's speed varies by up to 20% from one 3 s
round to the next, hence the eight rounds. Each run starts with an empty submissions table.
Ratio: req/s(empty) ÷ req/s(100,000 requests), target ≤ 1.1.
"""

from django.db import connection

from bench.common import Gunicorn, Result, analyze, header, report, reset_data, step
from bench.data import requests_create, tenant_create
from bench.signup_web import WEB_ENV, checked, signup_script, signup_site, signup_wrk
from bench.wrk import WrkResult

NAME = "signup_queue_size"
ON_SIGNUP_SITE = 20_000
OTHER_TENANTS = 9
PER_OTHER_TENANT = 80_000 // OTHER_TENANTS + 1
ROUNDS = 8
ROUND_SECONDS = 3
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


def _measure(url: str) -> tuple[dict[str, WrkResult], bool]:
    script = signup_script(url)
    signup_wrk(url, script, seconds=WARMUP_SECONDS)
    totals: dict[str, WrkResult] = {}
    clean = True
    for number in range(ROUNDS):
        # empty, full, full, empty: a steady drift of background load cancels out.
        for label in ("empty", "100k") if number % 2 == 0 else ("100k", "empty"):
            _state(full=label == "100k")
            result, stored = signup_wrk(url, script, seconds=ROUND_SECONDS)
            clean = checked(result, stored) and clean
            print(f"  round {number + 1} {label:6} ({_rows():6} requests) {result.describe()}")
            totals[label] = totals[label] + result if label in totals else result
    return totals, clean


def run() -> Result:
    header(NAME, "sign-up POST with 0 vs 100,000 requests in the table (gunicorn, wrk -c8)")
    reset_data()
    with step("load 100,000 requests (COPY) and keep a copy aside"):
        total = _load()
    print(f"  {total} requests, {ON_SIGNUP_SITE} of them on the sign-up site")
    web = Gunicorn(**WEB_ENV)
    with step("start gunicorn"):
        web.start()
    try:
        totals, clean = _measure(web.url)
    finally:
        web.stop()
        _execute("DROP TABLE IF EXISTS bench_request_stash")
    for label, result in totals.items():
        print(f"  total   {label:6} {result.rps:9.1f} req/s ({result.requests} requests)")
    ratio = totals["empty"].rps / totals["100k"].rps
    return report(Result(NAME, ratio, f"<={TARGET}", clean and ratio <= TARGET))
