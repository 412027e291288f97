"""The whole story in a browser: an administrator sets a site up, people sign up, one is
approved, activates their account and signs in; another is rejected with a reason."""

import re

import pytest
from django.core import mail
from django.core.management import call_command

from orgs.models import Person
from signup.models import SignupRequest
from sites.models import Site

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def link(message, part: str) -> str:
    return re.search(rf"(http://\S+{part}\S+/)", message.body).group(1)


def only_email_to(address: str):
    messages = [m for m in mail.outbox if m.to == [address]]
    assert messages, f"no email to {address}"
    return messages[-1]


def sign_up(page, base, email, first, last):
    """Fill the form at once, as autofill does (the default settings take such a sign-up)."""
    page.goto(f"{base}/sites/labs/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text("Thanks. Check your email for what happens next.").wait_for()


def test_full_story(live_server, new_page, shot, settings):
    settings.SITE_URL = live_server.url
    call_command("seed_demo", verbosity=0)
    acme = Site.objects.get(slug="acme")
    Site.objects.create(organization=acme.organization, name="Acme Labs", slug="labs")
    base = live_server.url
    mail.outbox.clear()

    admin = new_page()
    admin.goto(f"{base}/hub/login/")
    admin.get_by_label("Email").fill("admin@acme.example")
    admin.get_by_label("Password").fill("acme-demo-password")
    admin.get_by_role("button", name="Sign in").click()
    admin.get_by_role("link", name="Meetings › Sites").click()
    admin.get_by_role("row", name=re.compile("Acme Labs")).get_by_role(
        "link", name="Settings"
    ).click()
    admin.get_by_label("Allow host account sign-up").check()
    admin.get_by_label("Email domains to automatically approve").fill("partner.example")
    admin.get_by_label("Email domains to automatically reject").fill("*.spam.example")
    admin.get_by_label("Review host account requests").check()
    admin.get_by_role("button", name="Save").click()
    admin.get_by_text("Settings saved.").wait_for()
    # The server reads the address (SPEC 4's `Bob@ACME.com.`), not the browser's email check.
    admin.get_by_label("Test an address").fill("Bob@Partner.Example.")
    admin.get_by_role("button", name="Test").click()
    admin.get_by_text("Approved automatically").wait_for()
    admin.get_by_label("Test an address").fill("x@mail.spam.example")
    admin.get_by_role("button", name="Test").click()
    admin.get_by_text("Rejected automatically").wait_for()
    shot(admin, "settings")
    assert Site.objects.get(slug="labs").signup_allowed

    person = new_page()
    sign_up(person, base, "nora@example.net", "Nora", "Nguyen")
    person.goto(link(only_email_to("nora@example.net"), "/signup/confirm/"))
    person.get_by_text("An administrator will review your request").wait_for()
    other = new_page()
    sign_up(other, base, "omar@example.org", "Omar", "Haddad")
    other.goto(link(only_email_to("omar@example.org"), "/signup/confirm/"))
    assert SignupRequest.objects.filter(status="pending").count() == 2
    assert only_email_to("admin@acme.example").subject.startswith("New host account request")

    admin.get_by_role("link", name="Alerts center › Requests").click()
    admin.get_by_role("link", name="Nora Nguyen").wait_for()
    shot(admin, "queue")
    admin.get_by_role("link", name="Nora Nguyen").click()
    admin.get_by_text("Review mode: an administrator decides.").wait_for()
    shot(admin, "detail")
    admin.get_by_role("button", name="Approve").click()
    admin.get_by_text("The request was approved.").wait_for()

    ready = only_email_to("nora@example.net")
    assert "is ready" in ready.subject
    person.goto(link(ready, "/activate/"))
    # One field answers to "Password" (a strict locator), the other to "Confirmation".
    person.get_by_label("Password").fill("a-long-pass-phrase")
    person.get_by_label("Confirmation").fill("a-long-pass-phrase")
    person.get_by_role("button", name="Activate").click()
    person.get_by_text("You are a host on this site.").wait_for()
    person.get_by_role("button", name="Sign out").click()
    person.get_by_role("link", name="Sign in").first.click()
    person.get_by_label("Email").fill("nora@example.net")
    person.get_by_label("Password").fill("a-long-pass-phrase")
    person.get_by_role("button", name="Sign in").click()
    person.get_by_text("You are a host on this site.").wait_for()
    shot(person, "host-home")
    nora = Person.objects.get(email_normalized="nora@example.net")
    assert [lic.site.slug for lic in nora.licenses.all()] == ["labs"]

    admin.goto(f"{base}/hub/alerts/requests/")
    admin.get_by_role("link", name="Omar Haddad").click()
    admin.get_by_label("Reason (optional, sent to the requester)").fill("Employees only.")
    admin.get_by_role("button", name="Reject").click()
    admin.get_by_text("The request was rejected.").wait_for()
    declined = only_email_to("omar@example.org")
    assert "declined" in declined.subject and "Employees only." in declined.body


def test_enter_in_the_bulk_reason_decides_nothing(live_server, new_page):
    """The bulk form's first button is Approve: Enter in its reason box must not press it."""
    call_command("seed_demo", verbosity=0)
    acme = Site.objects.get(slug="acme")
    req = SignupRequest.objects.create(
        site=acme,
        organization=acme.organization,
        email="ines@example.net",
        email_normalized="ines@example.net",
        first_name="Ines",
        last_name="Ibarra",
        status=SignupRequest.Status.PENDING,
    )
    admin = new_page()
    admin.goto(f"{live_server.url}/hub/login/")
    admin.get_by_label("Email").fill("admin@acme.example")
    admin.get_by_label("Password").fill("acme-demo-password")
    admin.get_by_label("Password").press("Enter")
    admin.goto(f"{live_server.url}/hub/alerts/requests/")
    reason = admin.get_by_placeholder("Reason for rejecting (optional)")
    admin.get_by_role("checkbox").first.check()
    reason.fill("Contractors ask their manager")
    reason.press("Enter")
    admin.wait_for_timeout(500)
    assert admin.url == f"{live_server.url}/hub/alerts/requests/"
    # Enter on a ticked box sends the form with no decision: the page asks for one.
    admin.get_by_role("checkbox").first.press("Enter")
    admin.get_by_text("Tick one or more requests, then choose Approve or Reject.").wait_for()
    req.refresh_from_db()
    assert req.status == SignupRequest.Status.PENDING
    # The buttons still work.
    admin.get_by_role("checkbox").first.check()
    reason.fill("Contractors ask their manager")
    admin.get_by_role("button", name="Reject").click()
    admin.get_by_text("Rejected").first.wait_for()
    req.refresh_from_db()
    assert (req.status, req.rejection_reason) == ("rejected", "Contractors ask their manager")
