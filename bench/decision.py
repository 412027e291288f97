"""decision: sites.decision.decide(site=..., normalized_email=...) on a site with 10 domain
patterns and on one with 10,000 (exact and wildcard, approve and reject).

The same 2,000 addresses are decided on both sites, so every one gets the same outcome on both:
a third match an exact pattern, a third match a wildcard only, a third match nothing. Rounds of
100 decisions alternate between the two sites (in turn first) to cancel background noise.
Ratio: time(10,000 patterns) ÷ time(10 patterns), target ≤ 1.1, with the same number of
queries per decision.
"""

import time
from collections import Counter

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.common import Result, analyze, header, report, reset_data, step
from bench.data import tenant_create
from sites.decision import decide
from sites.models import DomainPattern, Site

NAME = "decision"
DECISIONS = 2000
ROUND = 100
WARMUP = 200
TARGET = 1.1
MATCHED = 5  # domains the addresses use; both sites hold their patterns


def _patterns(site: Site, count: int) -> None:
    """`count` patterns: exact `dN.example` and wildcard `*.wN.example`, half approve, half
    reject; N below MATCHED on every site, so the addresses match alike."""
    rows = []
    for number in range(count // 2):
        action = DomainPattern.Action.APPROVE if number % 2 else DomainPattern.Action.REJECT
        exact, parent = f"d{number}.example", f"w{number}.example"
        rows.append(DomainPattern(site=site, pattern=exact, suffix=exact, action=action))
        rows.append(
            DomainPattern(
                site=site, pattern=f"*.{parent}", suffix=parent, wildcard=True, action=action
            )
        )
    DomainPattern.objects.bulk_create(rows, batch_size=5000)


def _addresses() -> list[str]:
    kinds = (
        lambda n: f"user{n}@d{n % MATCHED}.example",  # exact pattern
        lambda n: f"user{n}@team.w{n % MATCHED}.example",  # wildcard only
        lambda n: f"user{n}@nomatch{n}.example.org",  # no pattern: the site's mode
    )
    return [kinds[n % 3](n) for n in range(DECISIONS)]


def _time(site: Site, addresses: list[str]) -> float:
    started = time.perf_counter()
    for address in addresses:
        decide(site=site, normalized_email=address)
    return time.perf_counter() - started


def _queries_per_decision(site: Site, addresses: list[str]) -> tuple[float, str]:
    """Queries per decision, and the SQL of the last one."""
    with CaptureQueriesContext(connection) as captured:
        for address in addresses:
            decide(site=site, normalized_email=address)
    return len(captured) / len(addresses), captured.captured_queries[-1]["sql"]


def _plan(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {sql}")
        return [row[0] for row in cursor.fetchall()]


def run() -> Result:
    header(NAME, "decide() with 10 vs 10,000 domain patterns on the site")
    reset_data()
    sites = {}
    with step("create the two sites' patterns (bulk_create) and VACUUM ANALYZE"):
        for count in (10, 10_000):
            site = tenant_create(f"decide{count}").site
            _patterns(site, count)
            sites[count] = site
        analyze("sites_domainpattern")
    addresses = _addresses()
    outcomes = {
        count: [decide(site=site, normalized_email=a).outcome for a in addresses]
        for count, site in sites.items()
    }
    if outcomes[10] != outcomes[10_000]:
        raise RuntimeError("the two sites decide the same addresses differently")
    for site in sites.values():
        _time(site, addresses[:WARMUP])
    totals = dict.fromkeys(sites, 0.0)
    for number, start in enumerate(range(0, DECISIONS, ROUND)):
        chunk = addresses[start : start + ROUND]
        order = list(sites) if number % 2 == 0 else list(reversed(sites))
        for count in order:
            totals[count] += _time(sites[count], chunk)
    measured = {
        count: _queries_per_decision(site, addresses[:300]) for count, site in sites.items()
    }
    queries = {count: per for count, (per, _sql) in measured.items()}
    print(f"  outcomes of the {DECISIONS} addresses: {dict(Counter(outcomes[10]))}")
    for count, seconds in totals.items():
        print(
            f"  {count:6} patterns: {DECISIONS} decisions in {seconds:.3f}s "
            f"({seconds / DECISIONS * 1e6:.0f} µs each), {queries[count]:.2f} queries each"
        )
    ratio = totals[10_000] / totals[10]
    same = queries[10] == queries[10_000]
    print(f"  outcomes identical on both sites; same queries per decision: {same}")
    print("  EXPLAIN ANALYZE of the lookup, 10,000 patterns:")
    print("\n".join(f"    {line}" for line in _plan(measured[10_000][1])))
    return report(Result(NAME, ratio, f"<={TARGET} (and equal queries)", ratio <= TARGET and same))
