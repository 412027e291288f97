"""Requests (SPEC section 6), confirmation and the decision, with the emails each case sends."""

import re
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from alerts.models import AuditEvent
from mail.models import OutboxEmail
from mail.rendering import message_id
from orgs.models import HostLicense, Person
from signup.models import SignupRequest, Submission
from signup.services import (
    requests_purge_unconfirmed,
    submission_receive,
    submissions_process,
    submissions_sweep,
)
from sites.models import Site
from sites.services import SettingsValues, site_settings_update
from tests import factories
from tests.helpers import human


def configure(site, **changes):
    values = SettingsValues.of(site)
    values.signup_enabled = True
    for name, value in changes.items():
        setattr(values, name, value)
    site_settings_update(site_id=site.pk, acting_user=None, values=values)
    site.refresh_from_db()


def sign_up(client, site, run_commits, email="nora@example.net", **fields):
    data = {"email": email, "first_name": "Nora", "last_name": "New", **fields}
    with run_commits():
        response = client.post(f"/sites/{site.slug}/signup/", human(data))
    assert response.status_code == 200
    return response


def kinds(outbox, to=None):
    """The kinds of the emails sent (to `to`), found by their Message-ID."""
    rows = {message_id(row): row.kind for row in OutboxEmail.objects.all()}
    return sorted(rows[m.extra_headers["Message-ID"]] for m in outbox if to is None or m.to == [to])


def link_in(message, path_part):
    match = re.search(rf"http://testserver(/sites/[^\s\"<]*{path_part}[^\s\"<]*)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def reviewers(full_admin, readonly_admin):
    return full_admin


def test_review_mode_with_confirmation(client, site, reviewers, outbox, run_commits):
    configure(site, require_confirmation=True, mode="review")
    sign_up(client, site, run_commits)
    req = SignupRequest.objects.get()
    assert req.status == SignupRequest.Status.UNCONFIRMED
    assert kinds(outbox) == ["confirm_email"]  # nobody else hears of it before confirmation
    confirm_path = link_in(outbox[0], "/signup/confirm/")
    outbox.clear()
    with run_commits():
        page = client.get(confirm_path)
    assert page.status_code == 200
    req.refresh_from_db()
    assert req.status == SignupRequest.Status.PENDING and req.confirmed_at
    assert kinds(outbox, "nora@example.net") == ["request_received"]
    assert kinds(outbox, "ana@acme.example") == ["admin_new_request"]
    assert "/hub/alerts/requests/" in outbox[-1].body
    # The link is single-use.
    again = client.get(confirm_path)
    assert again.status_code == 400
    assert b"doesn&#x27;t work" in again.content or b"doesn't work" in again.content


def test_auto_approve_by_pattern_creates_person_and_license_only_for_the_site(
    client, site, other_site, reviewers, outbox, run_commits
):
    template = factories.LicenseTemplateFactory(organization=site.organization)
    template.sites.set([other_site])
    configure(site, approve_entries=["example.net"], require_confirmation=False)
    sign_up(client, site, run_commits)
    req = SignupRequest.objects.get()
    assert req.status == SignupRequest.Status.APPROVED
    assert (req.decision_basis, req.decision_pattern, req.decided_by) == (
        "pattern",
        "example.net",
        None,
    )
    person = Person.objects.get(email_normalized="nora@example.net")
    assert person.source == Person.Source.SELF_SIGNUP
    assert person.organization == site.organization
    assert [lic.site for lic in person.licenses.all()] == [site]  # no template applied
    assert HostLicense.objects.get(person=person).source == HostLicense.Source.SELF_SIGNUP
    assert kinds(outbox, "nora@example.net") == ["host_ready"]
    assert kinds(outbox, "ana@acme.example") == ["admin_new_host"]
    assert "/activate/" in outbox[0].body or "/activate/" in outbox[1].body
    event = AuditEvent.objects.get(action=AuditEvent.Action.REQUEST_APPROVED)
    assert event.actor is None and event.changes["pattern"] == "example.net"


def test_auto_reject_by_pattern(client, site, reviewers, outbox, run_commits):
    configure(site, reject_entries=["*.example.net"], require_confirmation=False)
    sign_up(client, site, run_commits, email="bot@mass.example.net")
    req = SignupRequest.objects.get()
    assert req.status == SignupRequest.Status.REJECTED
    assert req.decision_pattern == "*.example.net"
    assert kinds(outbox) == ["request_declined"]
    assert not Person.objects.exists()


@pytest.mark.parametrize(("other", "status"), [("approve", "approved"), ("reject", "rejected")])
def test_automatic_mode_other_domains(client, site, reviewers, outbox, run_commits, other, status):
    configure(site, mode="automatic", other_domains=other, require_confirmation=False)
    sign_up(client, site, run_commits)
    req = SignupRequest.objects.get()
    assert (req.status, req.decision_basis) == (status, "mode")


def test_decision_waits_for_confirmation(client, site, reviewers, outbox, run_commits):
    configure(site, approve_entries=["example.net"], require_confirmation=True)
    sign_up(client, site, run_commits)
    assert not Person.objects.exists()
    assert SignupRequest.objects.get().status == "unconfirmed"
    with run_commits():
        client.get(link_in(outbox[0], "/signup/confirm/"))
    assert SignupRequest.objects.get().status == "approved"
    assert Person.objects.filter(email_normalized="nora@example.net").exists()


def test_confirmation_after_sign_up_was_switched_off_decides_nothing(
    client, site, reviewers, outbox, run_commits
):
    configure(site, approve_entries=["example.net"], require_confirmation=True)
    sign_up(client, site, run_commits)
    configure(site, signup_enabled=False)
    with run_commits():
        response = client.get(link_in(outbox[0], "/signup/confirm/"))
    assert response.status_code == 404 and b"Sign-up is not available" in response.content
    assert SignupRequest.objects.get().status == "unconfirmed"
    assert not Person.objects.exists()


def test_duplicate_creates_nothing_and_resends_rate_limited(
    client, site, reviewers, outbox, run_commits, settings
):
    configure(site, require_confirmation=True)
    sign_up(client, site, run_commits)
    settings.SIGNUP_RESEND_INTERVAL = 1
    outbox.clear()
    import time

    time.sleep(1.05)
    sign_up(client, site, run_commits, email="NORA@example.net.")
    assert SignupRequest.objects.count() == 1
    assert kinds(outbox) == ["confirm_email"]
    # Within the interval, more attempts send nothing more, and don't put off the purge.
    settings.SIGNUP_RESEND_INTERVAL = 3600
    sign_up(client, site, run_commits)
    notified_at = SignupRequest.objects.get().last_notified_at
    sign_up(client, site, run_commits)
    assert len(outbox) <= 2
    assert SignupRequest.objects.get().last_notified_at == notified_at


# A long address makes the email's key a digest: the check must find it all the same.
LONG_ADDRESS = "nora@" + ".".join(["a" * 60, "b" * 60, "c" * 40]) + ".example"


@pytest.mark.parametrize("email", ["nora@example.net", LONG_ADDRESS])
def test_repeats_on_each_side_of_a_window_edge_resend_once(
    site, reviewers, run_commits, settings, email
):
    from signup import services

    settings.SIGNUP_RESEND_INTERVAL = 300
    configure(site, require_confirmation=True)

    def submit() -> None:
        services.submission_receive(site=site, email=email, fields={}, language="en")
        services.submissions_process()

    with run_commits():
        submit()
    edge = (time.time() // 300 + 1) * 300
    for now in (edge - 0.5, edge + 0.5):
        with mock.patch.object(services.time, "time", return_value=now), run_commits():
            submit()
    req = SignupRequest.objects.get()
    # The first email, then one re-send within the 300 s.
    assert OutboxEmail.objects.filter(request=req, kind="confirm_email").count() == 2


def test_duplicate_of_pending_resends_acknowledgement(client, site, reviewers, outbox, run_commits):
    configure(site, require_confirmation=False)
    sign_up(client, site, run_commits)
    outbox.clear()
    sign_up(client, site, run_commits)
    assert SignupRequest.objects.count() == 1
    assert kinds(outbox) == ["request_received"]


@pytest.mark.parametrize("email", ["Host@Example.net", "host@example.net\uff0e"])
def test_existing_host_gets_an_email_and_no_request(client, site, outbox, run_commits, email):
    user = factories.UserFactory(email="host@example.net")
    person = factories.PersonFactory(
        organization=site.organization, email="host@example.net", user=user
    )
    factories.HostLicenseFactory(person=person, site=site)
    sign_up(client, site, run_commits, email=email)
    assert not SignupRequest.objects.exists()
    assert kinds(outbox) == ["already_host"]
    assert f"/sites/{site.slug}/signin/" in outbox[0].body
    assert "/activate/" not in outbox[0].body


def test_a_host_whose_activation_link_expired_gets_a_new_one_by_signing_up(
    client, site, outbox, run_commits, settings
):
    """Approved, but the activation link expired (or was lost) before a password was set: a
    sign-up again brings a new link, as the host has no other way to get a password."""
    configure(site, require_confirmation=False, approve_entries=["example.net"])
    sign_up(client, site, run_commits)
    first = link_in(outbox[-1], "/activate/")
    settings.SIGNUP_ACTIVATION_MAX_AGE = -1
    assert client.get(first).status_code == 400
    settings.SIGNUP_ACTIVATION_MAX_AGE = 7 * 24 * 3600
    outbox.clear()
    sign_up(client, site, run_commits, email="Nora@Example.net")
    (email,) = outbox
    assert kinds(outbox) == ["already_host"] and email.to == ["nora@example.net"]
    link = link_in(email, "/activate/")
    assert f"/sites/{site.slug}/signin/" in email.body  # SPEC 6: with the sign-in link
    assert client.post(link, {"password1": "a-long-new-pass", "password2": "a-long-new-pass"})
    assert Person.objects.get().user.check_password("a-long-new-pass")
    # Once it has a password, a sign-up brings the sign-in link (after the resend interval).
    settings.SIGNUP_RESEND_INTERVAL = 0.001
    outbox.clear()
    sign_up(client, site, run_commits)
    assert "/activate/" not in outbox[0].body and "/signin/" in outbox[0].body


def test_host_repeats_on_each_side_of_a_window_edge_get_one_email(site, run_commits, settings):
    from signup import services

    settings.SIGNUP_RESEND_INTERVAL = 300
    person = factories.PersonFactory(organization=site.organization, email="host@example.net")
    factories.HostLicenseFactory(person=person, site=site)
    configure(site, require_confirmation=True)
    edge = (time.time() // 300 + 1) * 300
    for now, spelling in [(edge - 0.5, "host@example.net"), (edge + 0.5, "HOST@example.net.")]:
        with mock.patch.object(services.time, "time", return_value=now), run_commits():
            services.submission_receive(site=site, email=spelling, fields={}, language="en")
            services.submissions_process()
    assert OutboxEmail.objects.filter(kind="already_host").count() == 1


@pytest.mark.parametrize("spelling", ['"host"@example.net', '"H\\ost"@Example.net.'])
def test_quotes_around_a_hosts_address_change_nothing(
    client, site, reviewers, outbox, run_commits, spelling
):
    """`"host"@example.net` is the host's own mailbox (quotes are not part of an address): it
    gets the email saying it already has an account, not a request that would make a second
    person for the same mailbox."""
    person = factories.PersonFactory(organization=site.organization, email="host@example.net")
    factories.HostLicenseFactory(person=person, site=site)
    configure(site, require_confirmation=False)
    sign_up(client, site, run_commits, email=spelling)
    assert not SignupRequest.objects.exists()
    assert kinds(outbox) == ["already_host"]


def test_quotes_around_another_organizations_address_change_nothing(
    client, site, other_org, reviewers, run_commits
):
    """An automatic approval of `"gus"@globex.example` would give Globex's person a second
    account in Acme: it waits for an administrator, whose approval is refused too."""
    factories.PersonFactory(organization=other_org, email="gus@globex.example")
    configure(site, require_confirmation=False, mode="automatic", other_domains="approve")
    sign_up(client, site, run_commits, email='"gus"@globex.example')
    req = SignupRequest.objects.get()
    assert (req.status, req.decision_basis) == ("pending", "held")
    client.force_login(reviewers)
    assert client.post(f"/hub/alerts/requests/{req.pk}/approve/").status_code == 409
    assert Person.objects.filter(organization=site.organization).count() == 0


def test_emails_carry_a_typed_name_only_once_the_address_confirmed_it(
    client, site, reviewers, outbox, run_commits
):
    """Anyone may type any address and any name: until the address's owner confirms, our emails
    to it greet nobody by that name (our sender would carry a stranger's text to any mailbox)."""
    lure = "Your account is locked. Unlock it at https://evil.example/unlock"
    configure(site, require_confirmation=True)
    sign_up(client, site, run_commits, email="nora@example.net", first_name=lure)
    (confirm,) = outbox
    html = confirm.alternatives[0][0]
    assert confirm.body.startswith("Hello,") and "evil.example" not in confirm.body + html
    outbox.clear()
    with run_commits():
        client.get(link_in(confirm, "/signup/confirm/"))
    (received,) = [m for m in outbox if m.to == ["nora@example.net"]]
    assert received.body.startswith(f"Hello {lure},")  # its owner confirmed it
    # Without confirmation, the automatic answers greet nobody by the typed name either.
    configure(site, require_confirmation=False, mode="automatic", other_domains="approve")
    outbox.clear()
    sign_up(client, site, run_commits, email="ann@example.net", first_name=lure)
    (ready,) = [m for m in outbox if m.to == ["ann@example.net"]]
    assert ready.body.startswith("Hello,") and "evil.example" not in ready.body
    # Its approval put the typed name in the directory; the email that anyone may have sent to
    # a host's address greets nobody by name.
    assert Person.objects.get(email="ann@example.net").first_name == lure
    outbox.clear()
    sign_up(client, site, run_commits, email="ann@example.net", first_name="Ann")
    (again,) = outbox
    assert again.body.startswith("Hello,") and "evil.example" not in again.body


def test_person_of_the_org_without_license_can_request(client, site, reviewers, run_commits):
    factories.PersonFactory(organization=site.organization, email="member@example.net")
    configure(site, require_confirmation=False)
    sign_up(client, site, run_commits, email="member@example.net")
    assert SignupRequest.objects.get().status == "pending"


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        (
            {"approve_entries": ["globex.example"]},
            "The address matches globex.example in the domains to approve automatically, but "
            "the request could not be approved automatically: an administrator decides.",
        ),
        (
            {"mode": "automatic", "other_domains": "approve"},
            "Automatic mode approves requests from other domains, but this one could not be "
            "approved automatically: an administrator decides.",
        ),
    ],
)
def test_other_organization_address_makes_a_request_that_waits(
    client, site, other_org, reviewers, outbox, run_commits, rules, reason
):
    """Another organization's address gets a request like any other (SPEC sections 5 and 6); an
    automatic approval of it is refused, so it waits in the queue for an administrator, and
    its reason says which rule approved it (not "review mode")."""
    factories.PersonFactory(organization=other_org, email="gus@globex.example")
    configure(site, require_confirmation=False, **rules)
    sign_up(client, site, run_commits, email="gus@globex.example")
    req = SignupRequest.objects.get()
    assert req.status == SignupRequest.Status.PENDING
    assert req.decision_reason == reason
    assert kinds(outbox) == ["admin_new_request", "request_received"]
    assert not HostLicense.objects.exists()


def test_after_rejection_the_person_may_ask_again(client, site, reviewers, outbox, run_commits):
    configure(site, require_confirmation=False)
    sign_up(client, site, run_commits)
    SignupRequest.objects.update(
        status="rejected", decided_at=timezone.now(), decision_basis="mode"
    )
    sign_up(client, site, run_commits)
    assert SignupRequest.objects.count() == 2
    assert SignupRequest.objects.filter(status="pending").count() == 1


def test_requester_emails_use_the_stored_language(client, site, reviewers, outbox, run_commits):
    configure(site, require_confirmation=True)
    with run_commits():
        client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "fr@example.net", "first_name": "Fé", "last_name": "Lix"}),
            HTTP_ACCEPT_LANGUAGE="fr",
        )
    email = OutboxEmail.objects.get()
    assert email.language == "fr"
    assert outbox[0].extra_headers["Content-Language"] == "fr"


def test_every_email_has_text_and_html_parts(client, site, reviewers, outbox, run_commits):
    configure(site, require_confirmation=False, approve_entries=["example.net"])
    sign_up(client, site, run_commits)
    assert outbox
    for message in outbox:
        assert message.body.strip()
        ((html, mimetype),) = message.alternatives
        assert mimetype == "text/html" and "<html" in html
        assert "\n" not in message.subject


def test_unconfirmed_requests_are_purged_after_24_hours(site, run_commits):
    old = factories.SignupRequestFactory(
        site=site, status="unconfirmed", last_notified_at=timezone.now() - timedelta(hours=25)
    )
    fresh = factories.SignupRequestFactory(
        site=site, status="unconfirmed", last_notified_at=timezone.now() - timedelta(hours=23)
    )
    pending = factories.SignupRequestFactory(
        site=site, status="pending", last_notified_at=timezone.now() - timedelta(days=3)
    )
    assert requests_purge_unconfirmed() == 1
    remaining = set(SignupRequest.objects.values_list("pk", flat=True))
    assert remaining == {fresh.pk, pending.pk}
    assert old.pk not in remaining


def test_submissions_left_by_a_broker_outage_are_swept(site, reviewers, run_commits, settings):
    configure(site, require_confirmation=False)
    stale = Submission.objects.create(
        site=site, email="late@example.net", fields={"first_name": "L", "last_name": "Ate"}
    )
    Submission.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with run_commits():
        assert submissions_sweep() == 1
    assert not Submission.objects.exists()
    assert SignupRequest.objects.get().email == "late@example.net"


def test_submission_on_a_site_closed_since_creates_nothing(site, run_commits):
    with run_commits():
        submission_receive(site=site, email="a@example.net", fields={}, language="en")
        Site.objects.filter(pk=site.pk).update(signup_enabled=False)
    assert not SignupRequest.objects.exists()
    assert not Submission.objects.exists()


def test_confirmation_link_tampered_or_for_another_site(
    client, site, other_site, outbox, run_commits
):
    configure(site, require_confirmation=True)
    sign_up(client, site, run_commits)
    path = link_in(outbox[0], "/signup/confirm/")
    token = path.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    for bad in [token[:-2] + "xx", "garbage", "a" * 600, token.replace(":", "")]:
        assert client.get(f"/sites/{site.slug}/signup/confirm/{bad}/").status_code == 400
    assert client.get(f"/sites/{other_site.slug}/signup/confirm/{token}/").status_code == 400
    assert SignupRequest.objects.get().status == "unconfirmed"


def test_confirmation_link_expires_after_24_hours(client, site, outbox, run_commits, monkeypatch):
    configure(site, require_confirmation=True)
    sign_up(client, site, run_commits)
    path = link_in(outbox[0], "/signup/confirm/")
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 24 * 3600 + 5)
    assert client.get(path).status_code == 400
    assert SignupRequest.objects.get().status == "unconfirmed"


def test_request_keeps_the_fields_the_form_required_when_it_was_sent(client, site, reviewers):
    """The settings change while the sign-up waits to be processed: the request still lists
    the fields the form asked for."""
    configure(site, require_confirmation=False, required_fields=["first_name", "last_name"])
    with mock.patch("signup.services.submissions_wake"):
        client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "nora@example.net", "first_name": "Nora", "last_name": "New"}),
        )
    configure(site, required_fields=["first_name", "last_name", "phone"])
    submissions_process()
    assert SignupRequest.objects.get().required_fields == ["first_name", "last_name"]
