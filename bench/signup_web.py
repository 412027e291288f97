"""What the two sign-up throughput benchmarks share: the site, the baseline table, the form's
tokens and a checked wrk run of sign-up POSTs."""

import secrets
import time

from django.conf import settings
from django.db import connection

from bench.common import purge_queue
from bench.data import Tenant, tenant_create
from bench.wrk import (
    WRK_CONNECTIONS,
    WrkResult,
    form_tokens,
    post_form,
    run_wrk,
    wrk_signup_script,
)
from signup.models import Submission

SLUG = "bench"
SIGNUP_PATH = f"/sites/{SLUG}/signup/"
# All the load comes from 127.0.0.1: the limit per client IP is raised so that it is never hit,
# but the limiter still runs (and counts in Redis) on every POST. Each POST has a new email
# address, so the limit per address keeps its production value.
WEB_ENV = {"RATELIMIT_SIGNUP_PER_IP": "1000000/h"}


def signup_site() -> Tenant:
    """The organization and commercial site `bench`: sign-up on, first and last name required."""
    return tenant_create("signup", slug=SLUG)


def baseline_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_row (id bigserial PRIMARY KEY, payload text, "
            "created_at timestamptz DEFAULT now())"
        )


def signup_script(base_url: str) -> str:
    """A wrk script of valid sign-ups, after checking that one such POST is stored."""
    cookie, hidden = form_tokens(base_url + SIGNUP_PATH)
    fields = {**hidden, "website": "", "first_name": "Ada", "last_name": "Lovelace"}
    # The form ignores what comes back sooner than a person could fill it in.
    time.sleep(getattr(settings, "SIGNUP_MIN_FILL_SECONDS", 0) + 0.2)
    before = Submission.objects.count()
    status, _body = post_form(
        base_url + SIGNUP_PATH,
        cookie=cookie,
        data={**fields, "email": f"preflight-{secrets.token_hex(4)}@signup.example"},
    )
    if status != 200 or Submission.objects.count() != before + 1:
        raise RuntimeError(f"a valid sign-up POST was not stored (status {status})")
    return wrk_signup_script(SIGNUP_PATH, cookie=cookie, fields=fields)


def signup_wrk(base_url: str, script: str, *, seconds: float) -> tuple[WrkResult, int]:
    """One wrk run of sign-ups: its result and how many submissions it stored (each 2xx must
    be a stored submission, or the form was refused and the figure means nothing)."""
    before = Submission.objects.count()
    result = run_wrk(base_url, script, seconds=seconds)
    stored = Submission.objects.count() - before
    purge_queue()  # no worker runs: the wake-ups the sign-ups published just pile up
    return result, stored


def checked(result: WrkResult, stored: int | None = None) -> bool:
    """Print a warning and return False when a run had errors or refused sign-ups."""
    # wrk prints a "Socket errors" line only when there were some.
    ok = result.bad == 0 and result.ok > 0 and not result.socket_errors
    # Requests still in flight when wrk stops are stored but not counted by wrk.
    if stored is not None and not result.ok <= stored <= result.ok + 2 * WRK_CONNECTIONS:
        print(f"  !! {result.ok} answers 2xx but {stored} submissions stored")
        ok = False
    if not ok:
        print(f"  !! run not clean: {result.describe()}")
    return ok
