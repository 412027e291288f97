"""A sign-up followed end to end on the real stack: PostgreSQL, Redis, a Celery worker process
and an SMTP server, through confirmation, decision and the delivered emails."""

import re
from collections import Counter

import pytest

from alerts.services import request_approve
from mail.models import OutboxEmail
from orgs.models import Person
from signup.models import SignupRequest
from sites.services import SettingsValues, site_settings_update
from tests.helpers import human
from tests.integration.conftest import body_text, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def configure(site, **values):
    site_settings_update(
        site_id=site.pk,
        acting_user=None,
        values=SettingsValues(
            signup_enabled=True, required_fields=["first_name", "last_name"], **values
        ),
    )


def confirm_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/sites/\S+/signup/confirm/\S+/)", body_text(message))[1]


def all_sent():
    rows = list(OutboxEmail.objects.values_list("status", flat=True))
    return rows and all(status == "sent" for status in rows)


def test_review_flow_through_worker_and_smtp(client, site, full_admin, smtp_server, celery_worker):
    mailbox, _port = smtp_server
    mailbox.clear()
    configure(site, require_confirmation=True, mode="review")
    response = client.post(
        f"/sites/{site.slug}/signup/",
        human({"email": "nora@example.net", "first_name": "Nora", "last_name": "N"}),
    )
    assert response.status_code == 200
    (confirm,) = wait_for(lambda: mailbox.to("nora@example.net"), what="the confirmation email")
    assert "Confirm your email" in confirm["Subject"]
    assert confirm.is_multipart()
    assert {p.get_content_type() for p in confirm.walk()} >= {"text/plain", "text/html"}

    assert client.get(confirm_path(confirm)).status_code == 200
    wait_for(lambda: mailbox.to(full_admin.email), what="the administrators' notification")
    wait_for(lambda: len(mailbox.to("nora@example.net")) == 2, what="the acknowledgement")
    req = SignupRequest.objects.get()
    assert req.status == "pending"

    request_approve(request_id=req.pk, acting_user=full_admin)
    wait_for(lambda: len(mailbox.to("nora@example.net")) == 3, what="the approval email")
    ready = mailbox.to("nora@example.net")[-1]
    assert "is ready" in ready["Subject"] and "/activate/" in body_text(ready)
    assert Person.objects.get(email_normalized="nora@example.net").licenses.get().site == site

    wait_for(all_sent, what="every outbox row to be sent")
    assert max(Counter(mailbox.keys()).values()) == 1  # each email delivered exactly once
    assert sorted(OutboxEmail.objects.values_list("idempotency_key", flat=True)) == sorted(
        mailbox.keys()
    )


def test_auto_approval_after_confirmation(client, site, full_admin, smtp_server, celery_worker):
    mailbox, _port = smtp_server
    mailbox.clear()
    configure(site, require_confirmation=True, approve_entries=["example.net"])
    client.post(
        f"/sites/{site.slug}/signup/",
        human({"email": "auto@example.net", "first_name": "Au", "last_name": "To"}),
    )
    (confirm,) = wait_for(lambda: mailbox.to("auto@example.net"), what="the confirmation email")
    client.get(confirm_path(confirm))
    wait_for(lambda: len(mailbox.to("auto@example.net")) == 2, what="the approval email")
    (created,) = wait_for(lambda: mailbox.to(full_admin.email), what="the admin email")
    assert "New host account created" in created["Subject"]
    assert SignupRequest.objects.get().status == "approved"
    wait_for(all_sent, what="every outbox row to be sent")
