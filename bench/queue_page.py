"""queue_page: the Alerts center page /hub/alerts/requests/ with 100 requests and with 100,000,
spread over 10 organizations (one site and one full administrator each), loaded with COPY.

In-process (django.test.Client, logged in as one organization's full administrator), p50 and
p95 of the first page, of a page ~4,000 rows deep (reached by following the next-cursor link 80
times), of a search for a name no request has, of a search for a family name that about 1% of
the requests have (as varied as a real queue's: bench/data.py), of the first page filtered to
the organization's site, and of the first page of a site administrator of that site; and the
SQL queries of each. The 100-request dataset has one page of 50 pending rows for that
organization, all with the family name searched for; its counterpart of the deep page is the
same cursor URL shape placed above its newest row, so both datasets' pages hold 50 rows
through the same code (the search for nobody, none). The small dataset is measured before and
after the large one (A-B-A), so that a drift of background load cancels out.
Ratios: p50(100k) ÷ p50(100) for each page; target ≤ 1.3 for every page, with identical query
counts. EXPLAIN ANALYZE of the queue query on 100k shows the index used.
"""

import html
import re
import time
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.common import Result, analyze, header, ms, percentile, report, reset_data, step
from bench.data import Tenant, requests_create, site_admin_create, tenant_create
from selfsignup.pagination import EPOCH, MICROSECOND

NAME = "queue_page"
URL = "/hub/alerts/requests/"
TENANTS = 10
LARGE_PER_TENANT = 10_000
DEEP_PAGES = 80
SAMPLES = 60
WARMUP = 5
TARGET = 1.3
ROWS_PER_PAGE = 50
PAGES = ("first", "deep", "search", "search found", "site", "site admin")
SEARCH_URL = f"{URL}?q=Okonkwo"
FOUND = "Okafor"  # one of bench.data.SURNAMES
FOUND_URL = f"{URL}?q={FOUND.lower()}"
SITE_URL = f"{URL}?site=bench-site-q0"
# Rows each page shows, when not a full page.
ROWS = {"search": 0}


def _small(tenants: list[Tenant]) -> None:
    """100 requests: 55 pending and 5 decided for the measured organization, 40 for the rest."""
    requests_create(tenants[0], 55, prefix="p", pending=1.0, surname=FOUND)
    requests_create(tenants[0], 5, prefix="d", pending=0.0)
    for number, tenant in enumerate(tenants[1:]):
        requests_create(tenant, 5 if number < 4 else 4, prefix=f"o{number}-", seed=number)


def _large(tenants: list[Tenant]) -> None:
    for number, tenant in enumerate(tenants):
        requests_create(tenant, LARGE_PER_TENANT, seed=number)


def _empty_requests() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE signup_signuprequest CASCADE")


def _rows(response) -> int:
    return response.content.decode().count('name="ids"')


Page = tuple[Client, str]


def _get(client: Client, url: str):
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response


def _deep_url(client: Client) -> str:
    url = URL
    for _ in range(DEEP_PAGES):
        link = re.search(r'rel="next" href="([^"]+)"', _get(client, url).content.decode())
        if link is None:
            raise RuntimeError(f"no next page after {url}")
        url = URL + html.unescape(link[1])
    return url


def _top_cursor_url() -> str:
    """The deep page's URL shape on a dataset too small to go deep: a cursor just above the
    newest row, so the page is the first 50 rows, read through the cursor code."""
    above = (timezone.now() + timedelta(days=1) - EPOCH) // MICROSECOND
    return f"{URL}?cursor=a{above}_{2**62}"


def _queries(page: Page) -> tuple[int, str]:
    """How many queries one GET makes, and the SQL of the queue query."""
    with CaptureQueriesContext(connection) as captured:
        _get(*page)
    queue = [
        q["sql"]
        for q in captured.captured_queries
        if 'FROM "signup_signuprequest"' in q["sql"] and "ORDER BY" in q["sql"]
    ]
    return len(captured), queue[0] if queue else ""


def _sample(pages: dict[str, Page], count: int) -> dict[str, list[float]]:
    """Timings of GETs of each page, interleaved."""
    for page in pages.values():
        for _ in range(WARMUP):
            _get(*page)
    times: dict[str, list[float]] = {label: [] for label in pages}
    for _ in range(count):
        for label, page in pages.items():
            started = time.perf_counter()
            _get(*page)
            times[label].append(time.perf_counter() - started)
    return times


def _measure(pages: dict[str, Page], count: int, dataset: str) -> dict:
    figures: dict = {"times": _sample(pages, count), "queries": {}, "sql": {}}
    for label, page in pages.items():
        rows, expected = _rows(_get(*page)), ROWS.get(label, ROWS_PER_PAGE)
        if rows != expected:
            raise RuntimeError(f"{dataset} {label} page shows {rows} rows, not {expected}")
        figures["queries"][label], figures["sql"][label] = _queries(page)
    return figures


def _explain(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]


def _print(label: str, times: list[float], queries: int) -> None:
    p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
    print(f"  {label:32} p50 {ms(p50):>9}  p95 {ms(p95):>9}  {queries} queries  (n={len(times)})")


def run() -> Result:
    header(NAME, "Alerts center › Requests with 100 vs 100,000 requests (10 organizations)")
    reset_data()
    tenants = [tenant_create(f"q{number}") for number in range(TENANTS)]
    client, site_client = Client(), Client()
    client.force_login(tenants[0].admin)
    site_client.force_login(site_admin_create(tenants[0]))
    shared = {
        "search": (client, SEARCH_URL),
        "search found": (client, FOUND_URL),
        "site": (client, SITE_URL),
    }
    shared["site admin"] = (site_client, URL)
    small_pages = {"first": (client, URL), "deep": (client, _top_cursor_url()), **shared}

    with step("load 100 requests"):
        _small(tenants)
        analyze("signup_signuprequest")
    small_a = _measure(small_pages, SAMPLES // 2, "100")
    with step(f"load {TENANTS * LARGE_PER_TENANT:,} requests (COPY) and VACUUM ANALYZE"):
        _empty_requests()
        _large(tenants)
        analyze("signup_signuprequest")
    deep_url = _deep_url(client)
    large_pages = {"first": (client, URL), "deep": (client, deep_url), **shared}
    large = _measure(large_pages, SAMPLES, "100k")
    plans = {label: _explain(sql) for label, sql in large["sql"].items()}
    with step("back to 100 requests"):
        _empty_requests()
        _small(tenants)
        analyze("signup_signuprequest")
    small_b = _measure(small_pages, SAMPLES - SAMPLES // 2, "100")

    print(f"  deep page: {deep_url}")
    ratios, same_queries = {}, True
    for label in PAGES:
        small_times = small_a["times"][label] + small_b["times"][label]
        small_queries = {small_a["queries"][label], small_b["queries"][label]}
        _print(f"{label} page, 100 requests", small_times, small_a["queries"][label])
        _print(f"{label} page, 100k requests", large["times"][label], large["queries"][label])
        ratios[label] = percentile(large["times"][label], 0.5) / percentile(small_times, 0.5)
        same_queries = same_queries and small_queries == {large["queries"][label]}
        print(f"  {label} page p50 ratio 100k ÷ 100: {ratios[label]:.2f}")
    print(f"  identical query counts: {same_queries}")
    for label, plan in plans.items():
        print(f"  EXPLAIN ANALYZE of the queue query, {label} page, 100k requests:")
        print(f"    top node: {plan[0].strip()}")
        print("\n".join(f"      {line}" for line in plan[1:]))
    ratio = max(ratios.values())
    passed = ratio <= TARGET and same_queries
    return report(
        Result(NAME, ratio, f"<={TARGET} (worst of {len(PAGES)} pages, equal queries)", passed)
    )
