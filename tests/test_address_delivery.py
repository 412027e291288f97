"""Where emails go: the domain the rules matched, and never a typed address in a header."""

import hashlib
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.mail.message import sanitize_address

from mail.models import EmailKind, OutboxEmail
from mail.rendering import build_message, message_id
from mail.services import EmailSpec, email_deliver
from signup.forms import AddressField
from signup.models import SignupRequest, Submission
from sites.domains import deliverable_email
from sites.models import Site
from tests import factories
from tests.helpers import human
from tests.test_signup_flow import configure

# Domains IDNA 2008 (our rules) and Python's IDNA 2003 codec (Django's mail code) encode
# differently: 2003 maps `ß` to `ss` and a final sigma to the ordinary one.
FASS = "xn--fa-hia.de"
GREEK = "xn--hxarsa0b.gr"


def sign_up(client, site: Site, email: str):
    data = {"email": email, "first_name": "K", "last_name": "F"}
    return client.post(f"/sites/{site.slug}/signup/", human(data))


def assert_sent_to(message, address: str) -> None:
    """What the SMTP backend puts in RCPT TO and in the To header, and the stored row."""
    assert message.to == [address]
    assert sanitize_address(message.to[0], "utf-8") == address
    assert message.message()["To"] == address
    assert OutboxEmail.objects.filter(to_email=address).exists()


def header_lines_broken(message) -> list[bytes]:
    """Header lines that are neither a `Name: value` line nor a folded continuation."""
    head = message.message().as_bytes().split(b"\n\n", 1)[0]
    return [line for line in head.split(b"\n") if not re.match(rb"[ \t]|[!-9;-~]+:", line)]


@pytest.mark.parametrize(
    ("typed", "sent_to"),
    [
        ("kate@faß.de", f"kate@{FASS}"),
        ("Kate@FAß.de", f"Kate@{FASS}"),
        ("n@ελλάς.gr", f"n@{GREEK}"),
    ],
)
def test_confirmation_goes_to_the_domain_the_rules_matched(
    client, site, outbox, run_commits, typed, sent_to
):
    domain = typed.rpartition("@")[2].lower()
    configure(site, approve_entries=[domain], require_confirmation=True, mode="review")
    with run_commits():
        sign_up(client, site, typed)
    req = SignupRequest.objects.get()
    assert req.email_normalized == sent_to.lower()
    (confirm,) = outbox
    assert_sent_to(confirm, sent_to)  # the local part keeps its case


def test_activation_link_goes_to_the_domain_the_rules_matched(client, site, outbox, run_commits):
    configure(site, approve_entries=["faß.de"], require_confirmation=False, mode="review")
    with run_commits():
        sign_up(client, site, "kate@faß.de")
    assert SignupRequest.objects.get().status == SignupRequest.Status.APPROVED
    ready = [m for m in outbox if "/activate/" in m.body]
    assert len(ready) == 1
    assert_sent_to(ready[0], f"kate@{FASS}")
    assert not OutboxEmail.objects.filter(to_email__contains="ß").exists()


def test_existing_host_is_told_at_the_domain_the_rules_matched(client, site, outbox, run_commits):
    configure(site, require_confirmation=False)
    person = factories.PersonFactory(
        organization=site.organization, email="kate@faß.de", email_normalized=f"kate@{FASS}"
    )
    factories.HostLicenseFactory(person=person, site=site)
    with run_commits():
        sign_up(client, site, "kate@faß.de")
    (told,) = outbox
    assert OutboxEmail.objects.get().kind == EmailKind.ALREADY_HOST
    assert_sent_to(told, f"kate@{FASS}")


def test_reviewer_addresses_get_the_domain_they_were_entered_with(
    client, site, outbox, run_commits
):
    configure(
        site,
        require_confirmation=False,
        mode="review",
        notify=Site.Notify.ADDRESSES,
        notify_addresses=["Boss@Faß.de"],
    )
    with run_commits():
        sign_up(client, site, "nora@example.net")
    (review,) = [m for m in outbox if m.to != ["nora@example.net"]]
    assert_sent_to(review, f"Boss@{FASS}")


def test_deliverable_email_keeps_plain_addresses_as_typed():
    assert deliverable_email("Nora.New+x@Example.NET.") == "Nora.New+x@example.net"
    assert deliverable_email('"a b"@example.net') == '"a b"@example.net'


CONTROL_ADDRESSES = [
    '"x\x0cinjected"@example.net',
    '"x\x01y"@example.net',
    '"x\x1fy"@example.net',
    '"x\x7fy"@example.net',
]


@pytest.mark.parametrize("address", CONTROL_ADDRESSES)
def test_requester_address_with_control_characters_is_refused(
    client, site, outbox, run_commits, address
):
    with run_commits():
        response = sign_up(client, site, address)
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert not Submission.objects.exists() and not SignupRequest.objects.exists()
    assert len(outbox) == 0


@pytest.mark.parametrize("address", [*CONTROL_ADDRESSES, "x@exa\x85mple.net"])
def test_address_field_refuses_control_characters(address):
    with pytest.raises(ValidationError) as caught:
        AddressField().clean(address)
    assert caught.value.messages == ["Enter a valid email address."]


@pytest.mark.parametrize("address", ["postmaster@localhost", "root@LOCALHOST.", "a@intranet"])
def test_an_address_on_a_single_label_domain_is_refused(address):
    """`localhost` is the mail relay's own mailboxes: nobody signs up from there."""
    with pytest.raises(ValidationError) as caught:
        AddressField().clean(address)
    assert caught.value.messages == ["Enter a valid email address."]


def test_review_addresses_on_localhost_are_refused():
    from sites.services import parse_notify_addresses

    addresses, errors = parse_notify_addresses(["boss@acme.example", "root@localhost"])
    assert addresses == ["boss@acme.example"]
    assert errors == ["“root@localhost” is not a valid email address."]


LOOKALIKES = [
    "\u212aate@example.net",
    "\u0130nes@example.net",
    "\u0131nes@example.net",
    "\u017fam@example.net",
]


@pytest.mark.parametrize("address", LOOKALIKES)
def test_a_non_ascii_local_part_is_refused(address):
    """These four letters pass Django's check and lower-case into ASCII: the Kelvin sign's
    `Kate@` would normalize to `kate@` (taking her request) while its mail goes nowhere."""
    with pytest.raises(ValidationError):
        AddressField().clean(address)


def test_a_lookalike_sign_up_stores_nothing(client, site, run_commits):
    with run_commits():
        response = sign_up(client, site, "\u212aate@example.net")
    assert "Enter a valid email address." in response.content.decode()
    assert not Submission.objects.exists() and not SignupRequest.objects.exists()


def test_address_field_still_takes_quoted_and_unicode_addresses():
    assert AddressField().clean('"a@b"@example.net') == '"a@b"@example.net'
    assert AddressField().clean("kate@faß.de.") == "kate@faß.de"


def test_idempotency_header_holds_no_address(db):
    """An address from before the form refused control characters still makes a clean key."""
    for to in ["nora@example.net", '"x\x0cinjected"@example.net']:
        spec = EmailSpec(EmailKind.REQUEST_RECEIVED, to, {}, "en", "request:7:pending")
        key = spec.idempotency_key
        assert key.isascii() and key.isprintable() and "example.net" not in key
        assert key.split(":")[-2] == EmailKind.REQUEST_RECEIVED
        row = OutboxEmail(idempotency_key=key, kind=spec.kind, to_email="nora@example.net")
        assert header_lines_broken(build_message(row)) == []


def test_idempotency_key_ignores_the_case_of_the_address():
    def key(to: str) -> str:
        return EmailSpec(EmailKind.HOST_READY, to, {}, "en", "request:1:approved").idempotency_key

    assert key("NORA@example.net") == key("nora@example.net") != key("nina@example.net")


def test_long_keys_are_the_ones_rows_were_queued_with():
    to = "a" * 190 + "@example.net"
    spec = EmailSpec(EmailKind.REQUEST_RECEIVED, to, {}, "en", "site:1:bucket")
    full = f"site:1:bucket:{EmailKind.REQUEST_RECEIVED}:{to}"
    digest = hashlib.sha256(full.encode()).hexdigest()
    assert spec.idempotency_key == f"{EmailKind.REQUEST_RECEIVED}:{digest}"


def test_row_queued_with_an_address_in_its_key_is_still_delivered(db, outbox):
    row = OutboxEmail.objects.create(
        idempotency_key="request:3:pending:request_received:nora@example.net",
        kind=EmailKind.REQUEST_RECEIVED,
        to_email="nora@example.net",
        context={"site_name": "Acme", "first_name": "Nora", "email": "nora@example.net"},
    )
    assert email_deliver(email_id=row.pk).status == "sent"
    assert outbox[0].extra_headers["Message-ID"] == message_id(row)


def test_row_queued_with_a_unicode_domain_goes_to_its_idna_2008_form(db):
    row = OutboxEmail.objects.create(
        idempotency_key="request:4:pending:request_received:old",
        kind=EmailKind.REQUEST_RECEIVED,
        to_email="Kate@faß.de",
        context={"site_name": "Acme", "first_name": "Kate", "email": "Kate@faß.de"},
    )
    message = build_message(row)
    assert message.to == ["Kate@xn--fa-hia.de"]
    assert sanitize_address(message.to[0], "utf-8") == "Kate@xn--fa-hia.de"


def test_a_listed_reviewer_with_a_unicode_domain_gets_their_own_language(site):
    from orgs.models import Administrator
    from orgs.selectors import review_recipients

    user = factories.UserFactory(email=f"boss@{FASS}")
    factories.AdministratorFactory(
        user=user, organization=site.organization, role=Administrator.Role.FULL, language="fr"
    )
    configure(site, notify=Site.Notify.ADDRESSES, notify_addresses=["Boss@Faß.de"])
    (recipient,) = review_recipients(site)
    assert (recipient.email, recipient.language) == ("Boss@Faß.de", "fr")


def test_the_rules_preview_counts_the_domain_after_the_last_at(site):
    from sites.selectors import pending_by_domain

    for address in ['"a@b"@example.com', "c@example.com", "d@other.example"]:
        factories.SignupRequestFactory(site=site, email=AddressField().clean(address))
    assert sorted(pending_by_domain(site)) == [("example.com", 2, 0), ("other.example", 1, 0)]


def test_an_international_domain_is_shown_as_people_write_it(
    client, site, full_admin, outbox, run_commits
):
    """Browsers send an `<input type=email>`'s Unicode domain in its A-label form: the pages and
    the reviewers' email show it back in Unicode, as the settings show domains."""
    configure(site, require_confirmation=False)
    munich = "hans@xn--mnchen-3ya.example"
    invalid = client.post(f"/sites/{site.slug}/signup/", human({"email": munich}))
    assert 'value="hans@münchen.example"' in invalid.content.decode()
    with run_commits():
        sign_up(client, site, munich)
    req = SignupRequest.objects.get(email_normalized=munich)
    (review,) = [m for m in outbox if m.to == [full_admin.email]]
    assert "hans@münchen.example" in review.subject and "hans@münchen.example" in review.body
    client.force_login(full_admin)
    for path in ["/hub/alerts/requests/", f"/hub/alerts/requests/{req.pk}/"]:
        page = client.get(path).content.decode()
        assert "hans@münchen.example" in page and "xn--" not in page, path


def test_a_nameless_request_and_the_sign_in_show_the_domain_in_unicode(
    client, site, full_admin, run_commits
):
    configure(site, require_confirmation=False, required_fields=[])
    munich = "hans@xn--mnchen-3ya.example"
    with run_commits():
        client.post(f"/sites/{site.slug}/signup/", human({"email": munich}))
    req = SignupRequest.objects.get(email_normalized=munich)
    signin = client.post(f"/sites/{site.slug}/signin/", {"username": munich, "password": "x"})
    assert 'value="hans@münchen.example"' in signin.content.decode()
    client.force_login(full_admin)
    pages = {p: client.get(p) for p in ["/hub/alerts/requests/", f"/hub/alerts/requests/{req.pk}/"]}
    with run_commits():
        pages["bulk"] = client.post(
            "/hub/alerts/requests/bulk/", {"ids": [req.pk], "action": "approve"}, follow=True
        )
    pages["/hub/people/"] = client.get("/hub/people/")
    for path, page in pages.items():
        text = page.content.decode()
        assert "hans@münchen.example" in text and "xn--" not in text, path


def test_a_lookalike_domain_is_not_shown_as_the_one_it_imitates(
    client, site, full_admin, run_commits
):
    """`xn--cme-5cd.example` is acme.example with a Cyrillic first letter: shown in Unicode it
    would pass for it, so it is shown as browsers show it. One script is shown in Unicode."""
    from sites.domains import display_email

    assert display_email("a@xn--e1afmkfd.xn--p1ai") == "a@пример.рф"
    assert display_email("a@xn--bck1b9a5dre4c.jp") == "a@ファッション.jp"
    configure(site, require_confirmation=False)
    lookalike = "ceo@xn--cme-5cd.example"
    with run_commits():
        client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": lookalike, "first_name": "C", "last_name": "Eo"}),
        )
    req = SignupRequest.objects.get(email_normalized=lookalike)
    client.force_login(full_admin)
    page = client.get(f"/hub/alerts/requests/{req.pk}/").content.decode()
    assert lookalike in page and "ceo@\u0430cme.example" not in page
