"""signup_throughput: sign-up POSTs per second against two baselines, all under gunicorn (2 sync
workers) with the same settings, middleware and PostgreSQL, loaded by wrk (8 connections).

Baselines: a bare view (small response, no database) and a view inserting one row. The sign-up
is a real valid form with its CSRF token, a new address each time. Each target gets 12 s of load
in four 3 s rounds, interleaved so that a change of background load hits all of them alike.
Every run must answer only 2xx, and every 2xx sign-up must have stored its submission.
Ratio: req/s(sign-up) ÷ req/s(one-row insert), target ≥ 0.6.

A fourth target, not judged, is a public form POST with none of the sign-up's own work (the same
body and CSRF token, a one-field form, one row, the page a sign-up answers): sign-up ÷ that
shows what share of the gap is the sign-up's own, and what share any such POST pays.

It also prints the CPU each kind of request cost, by process (the web app, PostgreSQL, Redis,
wrk): on one machine, the throughput of each is what that sum allows.
"""

from bench.baseline_urls import BARE_PATH, FORM_ROW_PATH, ONE_ROW_PATH
from bench.common import CpuMeter, Gunicorn, Result, header, report, reset_data, step
from bench.signup_web import (
    SIGNUP_PATH,
    WEB_ENV,
    baseline_table,
    checked,
    signup_script,
    signup_site,
    signup_wrk,
)
from bench.wrk import WrkResult, form_tokens, post_form, run_wrk, wrk_get_script, wrk_signup_script

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


def form_row_script(base_url: str) -> str:
    """POSTs to the form baseline with the sign-up's own body, after checking that one is taken."""
    cookie, hidden = form_tokens(base_url + SIGNUP_PATH)
    fields = {**hidden, "website": "", "first_name": "Ada", "last_name": "Lovelace"}
    status, _body = post_form(
        base_url + FORM_ROW_PATH, cookie=cookie, data={**fields, "email": "a@signup.example"}
    )
    if status != 200:
        raise RuntimeError(f"the form baseline refused a valid POST (status {status})")
    return wrk_signup_script(FORM_ROW_PATH, cookie=cookie, fields=fields)


def _measure(url: str, meter: CpuMeter) -> tuple[dict[str, WrkResult], dict, bool]:
    scripts = {
        "bare": wrk_get_script(BARE_PATH),
        "one-row": wrk_get_script(ONE_ROW_PATH),
        "form-row": form_row_script(url),
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
        turn = number % len(labels)
        for label in labels[turn:] + labels[:turn]:
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
    form_share = totals["signup"].rps / totals["form-row"].rps
    print(f"  sign-up ÷ form POST with one row (not judged): {form_share:.2f}")
    print(f"  sign-up ÷ one-row: {ratio:.2f}")
    return report(Result(NAME, ratio, f">={TARGET:.2f}", clean and ratio >= TARGET))
