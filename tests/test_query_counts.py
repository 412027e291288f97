"""Statement counts on the hot paths, pinned so that speed does not slip back: they must not
grow with the data or with the number of requests decided."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.services import requests_decide_bulk
from signup.models import SignupRequest
from tests import factories
from tests.helpers import human


def statements(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


@pytest.mark.parametrize("existing", [0, 300])
def test_signup_post_is_two_statements_whatever_the_table_holds(client, site, existing):
    """Look the site up, insert the intake row: everything else happens in a task."""
    SignupRequest.objects.bulk_create(
        SignupRequest(
            organization=site.organization,
            site=site,
            email=f"e{i}@example.net",
            email_normalized=f"e{i}@example.net",
            status="pending",
            decision_basis="mode",
        )
        for i in range(existing)
    )
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
