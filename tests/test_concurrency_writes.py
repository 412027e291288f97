"""Race-safety of the writes on PostgreSQL (real threads, each with its own connection): the
intake of double submits, bulk approvals sharing new addresses, the purge, a rules run and the
operators' site form."""

import threading
import time

import pytest
from django.db import connection

from alerts.models import AuditEvent
from mail.models import OutboxEmail
from signup.models import SignupRequest
from tests import factories
from tests.conftest import require_services
from tests.test_concurrency import all_at_once


def in_thread(fn):
    """Run fn in a thread with its own connection; return (thread, box-for-result-or-error)."""
    box: dict = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_on_an_auto_approving_site_is_approved_once(site, full_admin, monkeypatch):
    """Two submissions of one new address (a double click) taken by two workers at once, on a
    site that approves without confirmation. The second worker's INSERT waits on the first's
    uncommitted request; once the first commits it as *approved* (no longer open), the partial
    unique index no longer conflicts and the second makes and approves another request."""
    from signup import services
    from signup.models import Submission
    from tests.test_signup_flow import configure

    require_services()
    configure(site, require_confirmation=False, mode="automatic", other_domains="approve")
    monkeypatch.setattr(services, "submissions_wake", lambda: False)
    for _ in range(2):
        Submission.objects.create(
            site=site, email="dup@example.net", fields={"first_name": "D", "last_name": "U"}
        )
    deciding = threading.Event()
    real_apply = services.request_apply_decision

    def slow_apply(**kwargs):  # the first worker's commit comes a moment after its decision
        real_apply(**kwargs)
        if not deciding.is_set():
            deciding.set()
            time.sleep(1.0)

    monkeypatch.setattr(services, "request_apply_decision", slow_apply)
    first, first_box = in_thread(services.submission_process_next)
    assert deciding.wait(10)
    second, second_box = in_thread(services.submission_process_next)
    first.join(30)
    second.join(30)
    assert "error" not in first_box and "error" not in second_box, (first_box, second_box)
    outcomes = sorted([first_box["result"], second_box["result"]])
    approved = SignupRequest.objects.filter(email_normalized="dup@example.net", status="approved")
    host_ready = OutboxEmail.objects.filter(to_email="dup@example.net", kind="host_ready")
    audits = AuditEvent.objects.filter(action="request_approved")
    # Expected: one request, approved once; the second sign-up is told it is a host already.
    seen = (outcomes, approved.count(), host_ready.count(), audits.count())
    assert seen == (["already_host", "created"], 1, 1, 1), seen


@pytest.mark.django_db(transaction=True)
def test_double_submits_drained_by_four_workers_make_one_request_each(
    site, full_admin, monkeypatch
):
    """The same race with no help: a backlog of double-clicked sign-ups on an auto-approving site
    without confirmation, drained by four workers at once."""
    from signup import services
    from signup.models import Submission
    from tests.test_signup_flow import configure

    require_services()
    configure(site, require_confirmation=False, mode="automatic", other_domains="approve")
    monkeypatch.setattr(services, "submissions_wake", lambda: False)
    Submission.objects.bulk_create(
        Submission(site=site, email=f"dc{i // 2}@example.net", fields={"first_name": "D"})
        for i in range(200)
    )
    all_at_once(lambda _: services.submissions_process(), 4, timeout=120)
    requests = SignupRequest.objects.filter(site=site)
    assert (requests.count(), OutboxEmail.objects.filter(kind="host_ready").count()) == (100, 100)


@pytest.mark.django_db(transaction=True)
def test_two_bulk_approvals_sharing_new_addresses_do_not_deadlock(site, other_site, full_admin):
    """Two administrators bulk-approve, on two sites of one organization, requests of the same
    new addresses (listed in opposite id order). `_create_people` inserts the persons in request
    order: each INSERT waits on the other's uncommitted unique key, the classic ABBA deadlock."""
    from alerts.services import requests_decide_bulk

    require_services()
    other_admin = factories.AdministratorFactory(organization=site.organization).user
    n, rounds = 500, 6
    for round_ in range(rounds):
        first = [
            factories.SignupRequestFactory(
                site=site, email=f"r{round_}b{i}@example.net", status="pending"
            )
            for i in range(n)
        ]
        second = [
            factories.SignupRequestFactory(
                site=other_site, email=f"r{round_}b{i}@example.net", status="pending"
            )
            for i in reversed(range(n))
        ]
        batches = [([r.pk for r in first], full_admin), ([r.pk for r in second], other_admin)]

        def approve(index, batches=batches):
            ids, admin = batches[index]
            try:
                return requests_decide_bulk(request_ids=ids, acting_user=admin, approve=True)
            except Exception as exc:
                return exc

        results = all_at_once(approve, 2)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, (round_, errors)
    assert SignupRequest.objects.filter(status="approved").count() == 2 * n * rounds


@pytest.mark.django_db(transaction=True)
def test_the_purge_keeps_a_request_that_was_just_sent_a_new_link(site, monkeypatch):
    """A sign-up repeats an unconfirmed request that is past its 24 hours (the purge runs every
    15 minutes, so it lingers): the intake locks it, sends a fresh confirmation link and moves
    `last_notified_at` to now. The purge's `QuerySet.delete()` cannot fast-delete (AuditEvent and
    OutboxEmail point at requests with SET_NULL), so Django SELECTs the ids first and then
    DELETEs by id: the new state is never re-checked and the request whose link just went out
    is deleted."""
    from datetime import timedelta

    from django.db.models.signals import pre_delete
    from django.utils import timezone

    from signup import services
    from signup.models import Submission
    from tests.test_signup_flow import configure

    require_services()
    configure(site, require_confirmation=True)
    monkeypatch.setattr(services, "submissions_wake", lambda: False)
    long_ago = timezone.now() - timedelta(hours=24, minutes=5)
    req = factories.SignupRequestFactory(
        site=site,
        email="late@example.net",
        status="unconfirmed",
        confirmation_nonce="n" * 32,
    )
    SignupRequest.objects.filter(pk=req.pk).update(last_notified_at=long_ago, created_at=long_ago)
    Submission.objects.create(site=site, email="late@example.net", fields={"first_name": "L"})
    intake: dict = {}

    def between_select_and_delete(sender, instance, **kwargs):
        if intake:
            return
        intake["thread"], intake["box"] = in_thread(services.submission_process_next)
        intake["thread"].join(2)  # a purge that locks what it deletes makes it wait: go on

    pre_delete.connect(between_select_and_delete, sender=SignupRequest, weak=False)
    try:
        services.requests_purge_unconfirmed()
    finally:
        pre_delete.disconnect(between_select_and_delete, sender=SignupRequest)
    intake["thread"].join(30)
    assert intake["box"].get("result") in ("duplicate", "created"), intake
    # The newest confirmation link must lead to a request that still waits for it.
    link = OutboxEmail.objects.filter(to_email="late@example.net", kind="confirm_email").latest(
        "pk"
    )
    assert SignupRequest.objects.filter(pk=link.request_id, status="unconfirmed").exists(), (
        intake["box"],
        link.request_id,
        SignupRequest.objects.filter(pk=req.pk).exists(),
    )


@pytest.mark.django_db(transaction=True)
def test_rules_saved_with_keep_are_not_applied_by_a_run_in_progress(site, full_admin, monkeypatch):
    """An administrator asks the saved rules to decide the pending requests; while the run is
    between two batches, they save new rules choosing "keep pending requests as they are",
    which withdraws the wish. The run checked the wish once, at its start: its next batches
    decide the remaining requests by the *new* rules the administrator chose not to apply."""
    from alerts import services as alerts_services
    from sites.services import SettingsValues, site_settings_update
    from tests.test_signup_flow import configure

    require_services()
    from sites import services as sites_services

    monkeypatch.setattr(alerts_services, "BATCH_SIZE", 5)
    monkeypatch.setattr(sites_services, "enqueue_on_commit", lambda *a: None)  # run it below
    configure(site, mode="review", approve_entries=["acme.example"])
    for i in range(20):
        factories.SignupRequestFactory(site=site, email=f"p{i}@other.example", status="pending")
    values = SettingsValues.of(site)
    site_settings_update(
        site_id=site.pk, acting_user=full_admin, values=values, decide_pending=True
    )
    at_second_batch, saved = threading.Event(), threading.Event()
    real_lock, calls = alerts_services._lock, []

    def lock(ids):
        calls.append(ids)
        if len(calls) == 2:
            at_second_batch.set()
            saved.wait(10)
        return real_lock(ids)

    monkeypatch.setattr(alerts_services, "_lock", lock)
    run, box = in_thread(lambda: alerts_services.requests_apply_rules_requested(site_id=site.pk))
    assert at_second_batch.wait(10)
    site.refresh_from_db()
    new = SettingsValues.of(site)
    new.mode, new.other_domains = "automatic", "approve"
    site_settings_update(site_id=site.pk, acting_user=full_admin, values=new, decide_pending=False)
    saved.set()
    run.join(30)
    assert "error" not in box, box
    # Nobody asked the new rules to decide these requests: all 20 stay pending.
    assert SignupRequest.objects.filter(site=site, status="pending").count() == 20, box


def _operator_posts_while_the_hub_saves(site, full_admin, monkeypatch, data, **hub_changes):
    """The operator's site form is posted; after Django read the row and before the form is
    checked, an administrator saves settings in the hub. Returns the operator's status code."""
    from django.test import Client

    from sites.admin import SiteAdminForm
    from sites.models import Site
    from sites.services import SettingsValues, site_settings_update

    Site.objects.filter(pk=site.pk).update(signup_enabled=False)
    site.refresh_from_db()
    operator = factories.UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)
    read, saved = threading.Event(), threading.Event()
    real_clean = SiteAdminForm.clean

    def clean(self):
        read.set()
        saved.wait(10)
        return real_clean(self)

    monkeypatch.setattr(SiteAdminForm, "clean", clean)
    data = data | {"patterns-TOTAL_FORMS": "0", "patterns-INITIAL_FORMS": "0"}
    post, box = in_thread(
        lambda: client.post(f"/django-admin/sites/site/{site.pk}/change/", data).status_code
    )
    assert read.wait(10), box
    values = SettingsValues.of(site)
    for name, value in hub_changes.items():
        setattr(values, name, value)
    site_settings_update(site_id=site.pk, acting_user=full_admin, values=values)
    saved.set()
    post.join(30)
    site.refresh_from_db()
    return box.get("result", box)


@pytest.mark.django_db(transaction=True)
def test_an_operator_renaming_a_site_keeps_a_settings_save_made_meanwhile(
    site, full_admin, monkeypatch
):
    """The operator's change form for a site (name, slug, kind, SSO) saved the whole row it had
    read: a hub settings save committed in between was undone (sign-up switched off again,
    mode and wish reverted), while the audit trail said it was saved."""
    require_services()
    data = {"name": "Acme renamed", "slug": site.slug, "kind": "commercial", "sso_enabled": ""}
    status = _operator_posts_while_the_hub_saves(
        site, full_admin, monkeypatch, data, signup_enabled=True, mode="automatic"
    )
    assert status == 302
    assert site.name == "Acme renamed"
    assert AuditEvent.objects.filter(action="settings_updated", actor=full_admin).exists()
    assert (site.signup_enabled, site.mode) == (True, "automatic")


@pytest.mark.django_db(transaction=True)
def test_an_operator_making_a_site_sso_while_the_hub_turns_sign_up_on_gets_a_form_error(
    site, full_admin, monkeypatch
):
    """The operator's form read the site with sign-up off; the hub turns it on before the form
    is checked. The check reads the row again (under a lock): a form error, not a 500 from the
    database's constraint, and the site stays consistent."""
    require_services()
    data = {"name": site.name, "slug": site.slug, "kind": "commercial", "sso_enabled": "on"}
    status = _operator_posts_while_the_hub_saves(
        site, full_admin, monkeypatch, data, signup_enabled=True
    )
    assert status == 200  # the form again, with its error
    assert (site.signup_enabled, site.sso_enabled) == (True, False)


@pytest.mark.django_db(transaction=True)
def test_rejecting_a_held_request_while_the_rules_are_saved_does_not_deadlock(
    site, full_admin, other_org, monkeypatch
):
    """The reject holds the request and then writes rows that point at the site; the save holds
    the site and then refreshes the held requests. Holding the site FOR UPDATE made each wait
    for the other (a deadlock: one administrator got a 500); the save takes the lock that an
    UPDATE of the settings needs, which rows pointing at the site don't wait for."""
    from alerts import services as alerts_services
    from sites.services import SettingsValues, site_settings_update
    from tests.test_signup_flow import configure

    require_services()
    configure(site, mode="automatic", other_domains="approve")
    factories.PersonFactory(organization=other_org, email="gus@globex.example")
    req = factories.SignupRequestFactory(site=site, email="gus@globex.example")
    SignupRequest.objects.filter(pk=req.pk).update(decision_basis="held")
    request_held, site_held = threading.Event(), threading.Event()
    real_refresh, real_reject = alerts_services.held_requests_refresh, alerts_services._reject_batch

    def refresh(**kwargs):  # the save holds the site, and now asks for the held requests
        site_held.set()
        return real_refresh(**kwargs)

    def reject_batch(*args, **kwargs):  # the reject holds the request, and now writes
        request_held.set()
        assert site_held.wait(10)
        time.sleep(0.3)
        return real_reject(*args, **kwargs)

    monkeypatch.setattr(alerts_services, "held_requests_refresh", refresh)
    monkeypatch.setattr(alerts_services, "_reject_batch", reject_batch)
    rejecting, box = in_thread(
        lambda: alerts_services.request_reject(request_id=req.pk, acting_user=full_admin)
    )
    assert request_held.wait(10)
    values = SettingsValues.of(site)
    values.approve_entries = ["acme.example"]
    site_settings_update(site_id=site.pk, acting_user=full_admin, values=values)
    rejecting.join(30)
    assert "error" not in box, box
    assert SignupRequest.objects.get(pk=req.pk).status == "rejected"
    assert site.patterns.filter(pattern="acme.example").exists()
