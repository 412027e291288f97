"""Statement counts on the hot paths, pinned so that speed does not slip back: they must not
grow with the data or with the number of requests decided."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.selectors import QueueFilters, request_queue
from alerts.services import requests_decide_bulk
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
    many = [factories.SignupRequestFactory(site=site).pk for _ in range(60)]

    def approve(ids):
        return lambda: requests_decide_bulk(request_ids=ids, acting_user=full_admin, approve=True)

    with run_commits():
        assert statements(approve(few)) == statements(approve(many))
    assert SignupRequest.objects.filter(status="approved").count() == 65


SEARCH_INDEXES = [
    "signup_search_email_trgm",
    "signup_search_first_name_trgm",
    "signup_search_last_name_trgm",
]


def test_queue_search_can_use_the_trigram_indexes(site, full_admin):
    """Each searched column has a trigram index on the very expression the search filters on
    (a different expression would leave the index unused, silently): with sequential scans
    off, the plan of a search reads all three."""
    require_services()
    pending_requests_create(site, 3000, prefix="person", names=True)
    with connection.cursor() as cursor:
        # What autovacuum does after many inserts: move the new entries into the index proper.
        for name in SEARCH_INDEXES:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])
        cursor.execute("ANALYZE signup_signuprequest")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    admin = full_admin.administrator
    queue = request_queue(admin, QueueFilters(status="all", query="Zyxwvu"))
    plan = queue.order_by("-created_at", "-id")[:51].explain()
    assert [name for name in SEARCH_INDEXES if name not in plan] == [], plan
