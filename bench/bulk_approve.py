"""bulk_approve: approving 1,000 pending requests at once with
alerts.services.requests_decide_bulk (the service behind the hub's bulk action, which takes 500
at a time, and the operators' admin action), and 100 for comparison.

Measures the seconds and the SQL statements on the default connection (the deliveries the
approvals enqueue after each batch's commit go to Redis DB 1 and are counted in the time).
Every request must end approved, with its person, host license and email.
Ratio: seconds(1,000) ÷ 5, target ≤ 1.0 (under 5 s), and the same number of statements per batch
(500 requests each) at both sizes: statements grow with batches, not with requests. Also
printed: statements(1,000) ÷ statements(100).
"""

import re
import time
from collections import Counter

from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.services import BATCH_SIZE, requests_decide_bulk
from bench.common import Result, analyze, header, purge_queue, report, reset_data, step
from bench.data import requests_create, tenant_create
from mail.models import OutboxEmail
from mail.services import DELIVERY_BATCH
from orgs.models import HostLicense, Person
from signup.models import SignupRequest

NAME = "bulk_approve"
SIZES = (100, 1000)
TARGET_SECONDS = 5.0


def _kind(sql: str) -> str:
    """`INSERT signup_signuprequest`, `SAVEPOINT`...: what a statement does, and to what."""
    verb = sql.split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
    return f"{verb} {table[1]}" if table else verb


def _check(count: int, outcomes: list) -> None:
    failed = [o for o in outcomes if not o.ok]
    approved = SignupRequest.objects.filter(status=SignupRequest.Status.APPROVED).count()
    people, licenses = Person.objects.count(), HostLicense.objects.count()
    emails = OutboxEmail.objects.count()
    if failed or {approved, people, licenses, emails} != {count}:
        raise RuntimeError(
            f"{len(failed)} outcomes failed; approved {approved}, people {people}, "
            f"licenses {licenses}, emails {emails} (expected {count} each)"
        )


def _approve(count: int) -> tuple[float, list[str]]:
    reset_data()
    tenant = tenant_create("bulk")
    with step(f"create {count} pending requests"):
        requests_create(tenant, count, prefix=f"bulk{count}-", pending=1.0)
        analyze("signup_signuprequest")
        ids = list(SignupRequest.objects.order_by("-created_at").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        outcomes = requests_decide_bulk(request_ids=ids, acting_user=tenant.admin, approve=True)
        seconds = time.perf_counter() - started
    _check(count, outcomes)
    # The deliveries were published (a broker error is logged and left to the sweep, which
    # would make a faster run of nothing): one message per DELIVERY_BATCH emails of a commit.
    published = purge_queue()
    expected = sum(
        -(-min(BATCH_SIZE, count - start) // DELIVERY_BATCH)
        for start in range(0, count, BATCH_SIZE)
    )
    if published != expected:
        raise RuntimeError(f"{published} delivery messages published, not {expected}")
    return seconds, [q["sql"] for q in captured.captured_queries]


def run() -> Result:
    header(NAME, f"requests_decide_bulk approving {' and '.join(map(str, SIZES))} requests")
    figures = {count: _approve(count) for count in SIZES}
    for count, (seconds, statements) in figures.items():
        print(
            f"  {count:5} requests: {seconds:6.2f}s, {len(statements)} statements "
            f"({len(statements) / count:.2f} per request, "
            f"{-(-count // BATCH_SIZE)} batch(es) of up to {BATCH_SIZE})"
        )
    small, large = (figures[count] for count in SIZES)
    print(f"  statements by kind, {SIZES[-1]} requests:")
    for kind, number in sorted(Counter(map(_kind, large[1])).items()):
        print(f"    {number:4}  {kind}")
    growth = len(large[1]) / len(small[1])
    print(f"  statements({SIZES[-1]}) ÷ statements({SIZES[0]}): {growth:.2f}")
    per_batch = {
        count: len(statements) / -(-count // BATCH_SIZE)
        for count, (_s, statements) in figures.items()
    }
    by_batches = len(set(per_batch.values())) == 1
    print(f"  statements per batch: {per_batch} (the same at both sizes: {by_batches})")
    ratio = large[0] / TARGET_SECONDS
    passed = ratio <= 1.0 and by_batches
    target = f"<=1.00 ({SIZES[-1]} in under 5 s, the same statements per batch)"
    return report(Result(NAME, ratio, target, passed))
