"""Operators at /django-admin/: decisions go through the hub's services."""

import pytest

from alerts.models import AuditEvent
from mail.models import OutboxEmail
from signup.models import SignupRequest
from tests import factories


@pytest.fixture
def operator_client(client, db):
    operator = factories.UserFactory(email="ops@example.org", is_staff=True, is_superuser=True)
    client.force_login(operator)
    return client, operator


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_admin_actions_decide_through_the_services(operator_client, site, action, run_commits):
    client, operator = operator_client
    pending = factories.SignupRequestFactory(site=site)
    done = factories.SignupRequestFactory(
        site=site, status="approved", decided_at=pending.created_at, decision_basis="mode"
    )
    with run_commits():
        response = client.post(
            "/django-admin/signup/signuprequest/",
            {"action": action, "_selected_action": [pending.pk, done.pk]},
            follow=True,
        )
    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.status == {"approve": "approved", "reject": "rejected"}[action]
    assert pending.decided_by == operator
    assert AuditEvent.objects.filter(request=pending, actor=operator).count() == 1
    assert b"Already approved" in response.content
    assert SignupRequest.objects.get(pk=done.pk).decided_by is None


def test_every_model_page_opens(operator_client, site):
    client, _ = operator_client
    factories.SignupRequestFactory(site=site)
    OutboxEmail.objects.create(idempotency_key="k", kind="request_received", to_email="a@b.c")
    for path in [
        "orgs/user",
        "orgs/organization",
        "orgs/administrator",
        "orgs/person",
        "orgs/licensetemplate",
        "sites/site",
        "signup/signuprequest",
        "alerts/auditevent",
        "mail/outboxemail",
    ]:
        assert client.get(f"/django-admin/{path}/").status_code == 200, path
    assert client.get(f"/django-admin/sites/site/{site.pk}/change/").status_code == 200
