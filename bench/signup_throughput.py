"""signup_throughput: sign-up POSTs per second against two baselines, all under gunicorn (2 sync
workers) with the same settings, middleware and PostgreSQL, loaded by wrk (8 connections).

Baselines: a bare view (small response, no database) and a view inserting one row. The sign-up
is a real valid form with its CSRF token, a new address each time. Each target gets 12 s of load
in four 3 s rounds, interleaved so that a change of background load hits all three alike. Every
run must answer only 2xx, and every 2xx sign-up must have stored its submission.
Ratio: req/s(sign-up) ÷ req/s(one-row insert), target ≥ 0.6.

It also prints the CPU each kind of request cost, by process (the web app, PostgreSQL, Redis,
wrk): on one machine, the throughput of each is what that sum allows.
"""

from bench.baseline_urls import BARE_PATH, ONE_ROW_PATH
from bench.common import CpuMeter, Gunicorn, Result, header, report, reset_data, step
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


def _measure(url: str, meter: CpuMeter) -> tuple[dict[str, WrkResult], dict, bool]:
    scripts = {
        "bare": wrk_get_script(BARE_PATH),
        "one-row": wrk_get_script(ONE_ROW_PATH),
        "signup": signup_script(url),
    }
    with step(f"warm up each target for {WARMUP_SECONDS}s"):
        for label, script in scripts.items():
            _load(url, label, script, WARMUP_SECONDS)
    totals: dict[str, WrkResult] = {}
    cpu = {label: dict.fromkeys(CpuMeter.GROUPS, 0.0) for label in scripts}
    clean = True
    labels = list(scripts)
    for number in range(ROUNDS):
        # Rotate the order so that no target always runs first or last.
        for label in labels[number % 3 :] + labels[: number % 3]:
            before = meter.reading()
            result, ok = _load(url, label, scripts[label], ROUND_SECONDS)
            for group, seconds in CpuMeter.spent(before, meter.reading()).items():
                cpu[label][group] += seconds
            clean = clean and ok
            print(f"  round {number + 1} {label:8} {result.describe()}")
            totals[label] = totals[label] + result if label in totals else result
    return totals, cpu, clean


def run() -> Result:
    header(NAME, "sign-up POST vs bare view vs one-row insert (gunicorn 2 workers, wrk -c8)")
    reset_data()
    baseline_table()
    signup_site()
    web = Gunicorn(**WEB_ENV)
    with step("start gunicorn"):
        web.start()
    try:
        totals, cpu, clean = _measure(web.url, CpuMeter(web.process.pid))
    finally:
        web.stop()
    for label, total in totals.items():
        print(
            f"  total   {label:8} {total.rps:9.1f} req/s ({total.requests} in {total.seconds:.1f}s)"
        )
    print("  CPU per request, µs: " + ", ".join(CpuMeter.GROUPS))
    for label, total in totals.items():
        spent = [cpu[label][group] / max(total.requests, 1) * 1e6 for group in CpuMeter.GROUPS]
        figures = "  ".join(f"{value:6.0f}" for value in spent)
        print(f"  cpu     {label:8} {figures}   total {sum(spent):6.0f}")
    ratio = totals["signup"].rps / totals["one-row"].rps
    print(f"  sign-up ÷ bare: {totals['signup'].rps / totals['bare'].rps:.2f}")
    print(f"  sign-up ÷ one-row: {ratio:.2f}")
    return report(Result(NAME, ratio, f">={TARGET:.2f}", clean and ratio >= TARGET))
