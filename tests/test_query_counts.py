"""Statement counts on the hot paths, pinned so that speed does not slip back: they must not
grow with the data or with the number of requests decided."""

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from alerts.selectors import QueueFilters, request_queue
from alerts.services import requests_decide_bulk
from orgs.models import Person
from orgs.selectors import people_list
from selfsignup.search import TrigramIndexes
from signup.models import SignupRequest
from tests import factories
from tests.conftest import require_services
from tests.helpers import human, pending_requests_create


def statements(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


@pytest.mark.parametrize("existing", [0, 300])
def test_signup_post_is_two_statements_whatever_the_table_holds(client, site, existing):
    """Look the site up, insert the intake row: everything else happens in a task."""
    pending_requests_create(site, existing, prefix="e")
    data = human({"email": "new@example.net", "first_name": "N", "last_name": "W"})
    assert statements(lambda: client.post(f"/sites/{site.slug}/signup/", data)) == 2


def test_bulk_decisions_grow_with_batches_not_requests(site, full_admin, run_commits):
    few = [factories.SignupRequestFactory(site=site).pk for _ in range(5)]
    # 40: the outbox rows of more would take two INSERTs on SQLite (999 parameters at most).
    many = [factories.SignupRequestFactory(site=site).pk for _ in range(40)]

    def approve(ids):
        return lambda: requests_decide_bulk(request_ids=ids, acting_user=full_admin, approve=True)

    with run_commits():
        assert statements(approve(few)) == statements(approve(many))
    assert SignupRequest.objects.filter(status="approved").count() == 45


def _people_create(org, count: int) -> None:
    Person.objects.bulk_create(
        Person(
            organization=org,
            email=f"person{i}@d{i % 7}.example.net",
            email_normalized=f"person{i}@d{i % 7}.example.net",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            source=Person.Source.MANUAL,
        )
        for i in range(count)
    )


SEARCHES = {
    "requests": (
        "signup_signuprequest",
        lambda site: pending_requests_create(site, 3000, prefix="person", names=True),
        lambda admin, word: request_queue(admin, QueueFilters(status="all", query=word)),
    ),
    "people": (
        "orgs_person",
        lambda site: _people_create(site.organization, 3000),
        lambda admin, word: people_list(admin, query=word),
    ),
}


@pytest.mark.parametrize("search", SEARCHES)
def test_searches_can_use_their_trigram_indexes(site, full_admin, search):
    """Each searched column has a trigram index on the very expression the search filters on
    (another expression would leave the index unused, silently): with sequential and plain
    index scans off, the plan of a search for a word nobody has reads all three."""
    require_services()
    table, create, find = SEARCHES[search]
    create(site)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
            [table],
        )
        indexes = [name for (name,) in cursor.fetchall() if name.endswith("_trgm")]
        # What autovacuum does after many inserts: fold the new entries into the index proper.
        for name in indexes:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])
        cursor.execute(f"ANALYZE {table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    assert len(indexes) == 3
    plan = find(full_admin.administrator, "Zyxwvu")[:51].explain()
    assert [name for name in indexes if name not in plan] == [], plan
    if search == "requests":
        # The queue's indexes lead with the organization, compared as a bigint (an integer
        # has no operator there): each reads only the organization's matches.
        condition = f"(organization_id = '{site.organization_id}'::bigint)"
        assert plan.count(condition) >= 3, plan
    # A word with a Unicode domain label is also looked for in its A-label form. (With four
    # conditions on one organization's 3,000 rows, reading all of them can be the cheaper plan
    # here, so only the conditions are checked.)
    plan = find(full_admin.administrator, "Zyxwvü")[:51].explain()
    assert "'%ZYXWVÜ%'" in plan and "'%XN--ZYXWV-OVA%'" in plan, plan


def _index_state(name: str) -> tuple[bool, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indexrelid = to_regclass(%s)",
            [name],
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_trigram_indexes_replace_a_build_that_failed(site):
    """Re-running the migration after an interrupted CONCURRENTLY build must not keep the
    invalid index it left behind (IF NOT EXISTS alone would)."""
    require_services()
    name = "signup_search_org_email_trgm"
    operation = TrigramIndexes(
        "signup_signuprequest", {name: "email_normalized"}, within="organization_id"
    )
    pending_requests_create(site, 2)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {name}")
        # A concurrent build that fails (here on duplicate keys) leaves an invalid index.
        with pytest.raises(IntegrityError):
            cursor.execute(
                f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON signup_signuprequest (site_id)"
            )
    assert _index_state(name)[0] is False
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("signup", editor, None, None)
    valid, definition = _index_state(name)
    assert valid and "gin_trgm_ops" in definition and "organization_id" in definition
    with connection.schema_editor(atomic=False) as editor:
        operation.database_backwards("signup", editor, None, None)
    assert _index_state(name) is None
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("signup", editor, None, None)
    assert _index_state(name)[0] is True


@pytest.mark.parametrize("who", ["full administrator, site filter", "site administrator"])
def test_a_queue_page_of_one_site_reads_it_in_order_from_the_site_index(
    site, other_site, full_admin, site_admin, who
):
    """The site filter and a site administrator's page go by site id, on the queue's site index,
    read in the page's order: no sort of the organization's (or the site's) rows."""
    require_services()
    pending_requests_create(site, 4000, prefix="a")
    pending_requests_create(other_site, 4000, prefix="b")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE signup_signuprequest")
    if who == "site administrator":
        admin, filters = site_admin.administrator, QueueFilters()
    else:
        admin, filters = full_admin.administrator, QueueFilters(site=other_site.slug)
    queue = request_queue(admin, filters).order_by("-created_at", "-id")[:51]
    plan = queue.explain()
    assert "Index Scan using signup_queue_site" in plan and "Sort" not in plan, plan
    assert {r.site_id for r in queue} == {other_site.pk}


def _hub_statements(client, url: str) -> int:
    return statements(lambda: client.get(url))


def test_the_overview_counts_every_sites_queue_in_one_query(client, org, full_admin):
    """Pending counts per site, capped, whatever the number of sites."""
    from orgs.selectors import PENDING_COUNT_CAP

    client.force_login(full_admin)
    first = factories.SiteFactory(organization=org)
    pending_requests_create(first, 3, prefix="o")
    few = _hub_statements(client, "/hub/")
    for _ in range(12):
        pending_requests_create(factories.SiteFactory(organization=org), 2, prefix="m")
    many = _hub_statements(client, "/hub/")
    assert many == few
    response = client.get("/hub/")
    counts = {s.pk: s.pending_count for s in response.context["sites"]}
    assert counts[first.pk] == 3 and sum(counts.values()) == 3 + 12 * 2
    assert PENDING_COUNT_CAP == 1000


def test_add_person_grants_the_template_in_one_statement(client, org, full_admin):
    """The automatic license template's licenses, one INSERT whatever the number of sites."""
    from orgs.models import HostLicense

    client.force_login(full_admin)
    template = factories.LicenseTemplateFactory(organization=org)

    def add(email: str) -> int:
        data = {"email": email, "first_name": "Pat", "last_name": "Person"}
        return statements(lambda: client.post("/hub/people/add/", data))

    template.sites.set([factories.SiteFactory(organization=org) for _ in range(2)])
    few = add("few@example.net")
    template.sites.set([factories.SiteFactory(organization=org) for _ in range(20)])
    many = add("many@example.net")
    assert many == few
    assert HostLicense.objects.filter(person__email_normalized="many@example.net").count() == 20


@pytest.mark.parametrize("who", ["full administrator", "site administrator"])
def test_the_people_page_reads_its_index_in_order(site, other_site, full_admin, site_admin, who):
    """Newest first on (organization, created_at, id); a site administrator's people by a
    semi-join on their licenses, never a sort of the organization's people."""
    require_services()
    from orgs.models import HostLicense

    _people_create(site.organization, 3000)
    HostLicense.objects.bulk_create(
        HostLicense(person=p, site=other_site, source="manual")
        for p in Person.objects.filter(organization=site.organization)[:2000]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orgs_person")
        cursor.execute("ANALYZE orgs_hostlicense")
    admin = (site_admin if who == "site administrator" else full_admin).administrator
    plan = people_list(admin).order_by("-created_at", "-id")[:51].explain()
    assert "orgs_people_page" in plan and "Sort" not in plan, plan


def test_the_audit_trail_of_one_site_reads_the_site_index(site, other_site, full_admin):
    require_services()
    from alerts.models import AuditEvent
    from alerts.selectors import audit_trail

    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=site.organization,
            site=site if i % 50 else other_site,
            actor_label="Ana",
            action="settings_updated",
        )
        for i in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE alerts_auditevent")
    trail = audit_trail(full_admin.administrator, site=other_site.slug)
    plan = trail.order_by("-created_at", "-id")[:51].explain()
    assert "alerts_audit_site" in plan and "Sort" not in plan, plan


def test_the_failed_emails_page_reads_the_same_statements_however_many(client, org, full_admin):
    from mail.models import OutboxEmail

    client.force_login(full_admin)

    def failed(count: int) -> None:
        for number in range(count):
            req = factories.SignupRequestFactory(site=factories.SiteFactory(organization=org))
            OutboxEmail.objects.create(
                idempotency_key=f"k{OutboxEmail.objects.count()}-{number}",
                kind="request_received",
                to_email="x@example.net",
                organization=org,
                request=req,
                status="failed",
            )

    failed(1)
    few = _hub_statements(client, "/hub/alerts/emails/")
    failed(30)
    assert _hub_statements(client, "/hub/alerts/emails/") == few


def test_no_index_on_the_organization_alone_competes_with_the_queue_search(db):
    """An index on the requests' organization alone looked cheap to the planner for a search
    (its statistics are sampled), which then read every request of the organization and sorted
    them, in place of the search indexes' matches: 5 ms rather than 1 at 10,000 requests."""
    require_services()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = 'signup_signuprequest'::regclass"
        )
        definitions = [row[0] for row in cursor.fetchall()]
    leading = [d for d in definitions if "(organization_id" in d]
    assert leading and all("organization_id)" not in d for d in leading), leading
