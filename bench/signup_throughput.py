"""signup_throughput: sign-up POSTs per second against two baselines, all under gunicorn (2 sync
workers) with the same settings, middleware and PostgreSQL, loaded by wrk (8 connections).

Baselines: a bare view (small response, no database) and a view inserting one row. The sign-up
is a real valid form with its CSRF token, a new address each time. Each target gets 12 s of load
in four 3 s rounds, interleaved so that a change of background load hits all three alike. Every
run must answer only 2xx, and every 2xx sign-up must have stored its submission.
Ratio: req/s(sign-up) ÷ req/s(one-row insert), target ≥ 0.6.
"""

from bench.baseline_urls import BARE_PATH, ONE_ROW_PATH
from bench.common import Gunicorn, Result, header, report, reset_data, step
from bench.signup_web import (
    WEB_ENV,
    baseline_table,
    checked,
    signup_script,
    signup_site,
    signup_wrk,
)
from bench.wrk import WrkResult, run_wrk, wrk_get_script

NAME = "signup_throughput"
ROUNDS = 4
ROUND_SECONDS = 3
WARMUP_SECONDS = 2
TARGET = 0.6


def _load(url: str, label: str, script: str, seconds: float) -> tuple[WrkResult, bool]:
    if label == "signup":
        result, stored = signup_wrk(url, script, seconds=seconds)
        return result, checked(result, stored)
    result = run_wrk(url, script, seconds=seconds)
    return result, checked(result)


def _measure(url: str) -> tuple[dict[str, WrkResult], bool]:
    scripts = {
        "bare": wrk_get_script(BARE_PATH),
        "one-row": wrk_get_script(ONE_ROW_PATH),
        "signup": signup_script(url),
    }
    with step(f"warm up each target for {WARMUP_SECONDS}s"):
        for label, script in scripts.items():
            _load(url, label, script, WARMUP_SECONDS)
    totals: dict[str, WrkResult] = {}
    clean = True
    labels = list(scripts)
    for number in range(ROUNDS):
        # Rotate the order so that no target always runs first or last.
        for label in labels[number % 3 :] + labels[: number % 3]:
            result, ok = _load(url, label, scripts[label], ROUND_SECONDS)
            clean = clean and ok
            print(f"  round {number + 1} {label:8} {result.describe()}")
            totals[label] = totals[label] + result if label in totals else result
    return totals, clean


def run() -> Result:
    header(NAME, "sign-up POST vs bare view vs one-row insert (gunicorn 2 workers, wrk -c8)")
    reset_data()
    baseline_table()
    signup_site()
    web = Gunicorn(**WEB_ENV)
    with step("start gunicorn"):
        web.start()
    try:
        totals, clean = _measure(web.url)
    finally:
        web.stop()
    for label, total in totals.items():
        print(
            f"  total   {label:8} {total.rps:9.1f} req/s ({total.requests} in {total.seconds:.1f}s)"
        )
    ratio = totals["signup"].rps / totals["one-row"].rps
    print(f"  sign-up ÷ bare: {totals['signup'].rps / totals['bare'].rps:.2f}")
    print(f"  sign-up ÷ one-row: {ratio:.2f}")
    return report(Result(NAME, ratio, f">={TARGET:.2f}", clean and ratio >= TARGET))
