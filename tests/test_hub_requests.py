"""Alerts center › Requests: the queue, a request's page, approve, reject, bulk (SPEC 7)."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import AuditEvent
from alerts.services import requests_apply_rules
from mail.models import OutboxEmail
from orgs.models import HostLicense, Person
from signup.models import SignupRequest
from sites.models import DomainPattern, Site
from tests import factories
from tests.helpers import pending_requests_create


@pytest.fixture
def admin_client(client, full_admin):
    client.force_login(full_admin)
    return client


def make_requests(site, count, **fields):
    start = timezone.now() - timedelta(days=1)
    return [
        factories.SignupRequestFactory(
            site=site,
            email=f"r{i:04d}@example.net",
            created_at=start + timedelta(seconds=i),
            **fields,
        )
        for i in range(count)
    ]


def emails_in(html: str) -> list[str]:
    return re.findall(r"<td>(r\d{4}@example\.net)</td>", html)


def test_queue_is_pending_newest_first_with_the_columns(admin_client, site, other_site):
    make_requests(site, 3)
    factories.SignupRequestFactory(
        site=site,
        email="done@example.net",
        status="approved",
        decided_at=timezone.now(),
        decision_basis="mode",
    )
    html = admin_client.get("/hub/alerts/requests/").content.decode()
    assert emails_in(html) == ["r0002@example.net", "r0001@example.net", "r0000@example.net"]
    assert "done@example.net" not in html
    for column in ["Requester", "Email", "Site", "Requested at", "Status", "Decided by"]:
        assert f"<th>{column}</th>" in html


def test_filters_by_status_site_and_search(admin_client, site, other_site):
    factories.SignupRequestFactory(site=site, email="nora@example.net", first_name="Nora")
    factories.SignupRequestFactory(site=other_site, email="omar@example.net", first_name="Omar")
    factories.SignupRequestFactory(
        site=site,
        email="rita@example.net",
        status="rejected",
        decided_at=timezone.now(),
        decision_basis="mode",
    )
    get = admin_client.get
    assert b"omar@" not in get("/hub/alerts/requests/", {"site": site.slug}).content
    assert b"omar@" in get("/hub/alerts/requests/", {"site": other_site.slug}).content
    rejected = get("/hub/alerts/requests/", {"status": "rejected"}).content
    assert b"rita@" in rejected and b"nora@" not in rejected
    everything = get("/hub/alerts/requests/", {"status": "all"}).content
    assert all(e in everything for e in [b"rita@", b"nora@", b"omar@"])
    by_name = get("/hub/alerts/requests/", {"q": "nOrA"}).content
    assert b"nora@" in by_name and b"omar@" not in by_name
    by_email = get("/hub/alerts/requests/", {"q": "OMAR@example"}).content
    assert b"omar@" in by_email and b"nora@" not in by_email


def test_pages_of_50_by_cursor_without_offset_or_count(admin_client, site):
    make_requests(site, 120)
    seen, url = [], "/hub/alerts/requests/"
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(url).content.decode()
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "OFFSET" not in sql and "COUNT(" not in sql
    pages = 0
    while True:
        pages += 1
        seen += emails_in(page)
        match = re.search(
            r'href="\?([^"]*cursor=[^"]+)" rel="next"|rel="next" href="\?([^"]+)"', page
        )
        if not match:
            break
        query = (match.group(1) or match.group(2)).replace("&amp;", "&")
        page = admin_client.get(f"{url}?{query}").content.decode()
    assert pages == 3
    assert seen == [f"r{i:04d}@example.net" for i in range(119, -1, -1)]
    # And back.
    previous = re.search(r'rel="prev" href="\?([^"]+)">Previous</a>', page)
    back = admin_client.get(f"{url}?{previous.group(1).replace('&amp;', '&')}").content.decode()
    assert emails_in(back) == [f"r{i:04d}@example.net" for i in range(69, 19, -1)]


def page_links(html: str) -> dict[str, str]:
    """The page's next and previous links, by their rel."""
    found = re.findall(r'rel="(next|prev)" href="\?([^"]+)"', html)
    found += [
        (rel, query) for query, rel in re.findall(r'href="\?([^"]+)" rel="(next|prev)"', html)
    ]
    return {rel: query.replace("&amp;", "&") for rel, query in found}


def decide_all(rows):
    SignupRequest.objects.filter(pk__in=[r.pk for r in rows]).update(
        status="rejected", decided_at=timezone.now(), decision_basis="mode"
    )


def test_next_page_whose_rows_were_decided_meanwhile_is_the_last_page(admin_client, site):
    rows = make_requests(site, 100)
    url = "/hub/alerts/requests/"
    next_query = page_links(admin_client.get(url).content.decode())["next"]
    decide_all(rows[:50])  # the older half leaves the pending queue
    page = admin_client.get(f"{url}?{next_query}").content.decode()
    assert emails_in(page) == [f"r{i:04d}@example.net" for i in range(99, 49, -1)]
    assert page_links(page) == {}


def test_next_page_after_the_oldest_rows_were_decided_is_the_last_page_with_the_row_left(
    admin_client, site
):
    rows = make_requests(site, 120)
    url = "/hub/alerts/requests/"
    second = admin_client.get(f"{url}?{page_links(admin_client.get(url).content.decode())['next']}")
    second_page = second.content.decode()
    assert emails_in(second_page) == [f"r{i:04d}@example.net" for i in range(69, 19, -1)]
    decide_all(rows[:20])  # everything older than the second page leaves the queue
    page = admin_client.get(f"{url}?{page_links(second_page)['next']}").content.decode()
    # The last page: the second page's oldest row (r0020) is still pending and still shown.
    assert emails_in(page) == [f"r{i:04d}@example.net" for i in range(69, 19, -1)]
    assert set(page_links(page)) == {"prev"}


def test_previous_page_whose_rows_were_decided_meanwhile_is_the_first_page(admin_client, site):
    rows = make_requests(site, 120)
    url = "/hub/alerts/requests/"
    second = admin_client.get(f"{url}?{page_links(admin_client.get(url).content.decode())['next']}")
    previous_query = page_links(second.content.decode())["prev"]
    decide_all(rows[70:])  # the newest fifty leave the queue
    page = admin_client.get(f"{url}?{previous_query}").content.decode()
    assert emails_in(page) == [f"r{i:04d}@example.net" for i in range(69, 19, -1)]
    assert set(page_links(page)) == {"next"}


def test_tampered_cursor_shows_the_first_page(admin_client, site):
    make_requests(site, 3)
    for cursor in ["zzz", "a123", "a_", "b99999999999999999999999_1", "a1_x"]:
        response = admin_client.get("/hub/alerts/requests/", {"cursor": cursor})
        assert response.status_code == 200


def test_detail_shows_fields_snapshot_reason_and_email_log(admin_client, site):
    req = factories.SignupRequestFactory(
        site=site,
        email="nora@example.net",
        fields={"phone": "+1 555 0100", "country": "FR", "preferred_language": "fr"},
        required_fields=["first_name", "last_name", "phone", "address"],
        language="fr",
    )
    OutboxEmail.objects.create(
        idempotency_key="k1",
        kind="request_received",
        to_email=req.email,
        request=req,
        status="failed",
        attempts=6,
        last_error="SMTPServerDisconnected: gone",
    )
    html = admin_client.get(f"/hub/alerts/requests/{req.pk}/").content.decode()
    for text in [
        "nora@example.net",
        "+1 555 0100",
        "France",
        "<dt>Preferred language</dt><dd>Français</dd>",
        '<dt>Language</dt><dd lang="fr">Français</dd>',
        "Phone number",
        "Address",
        "Review mode: an administrator decides.",
        "Request received",
        "Failed",
        "SMTPServerDisconnected",
        ">Approve</button>",
        ">Reject</button>",
    ]:
        assert text in html, text


def test_approve_creates_person_license_audit_and_email(
    admin_client, site, full_admin, outbox, run_commits
):
    req = factories.SignupRequestFactory(site=site, email="nora@example.net")
    with run_commits():
        response = admin_client.post(f"/hub/alerts/requests/{req.pk}/approve/")
    assert response.status_code == 302
    req.refresh_from_db()
    assert (req.status, req.decided_by, req.decision_basis) == (
        "approved",
        full_admin,
        "administrator",
    )
    person = Person.objects.get(email_normalized="nora@example.net")
    assert [lic.site for lic in person.licenses.all()] == [site]
    assert AuditEvent.objects.filter(action="request_approved", actor=full_admin).count() == 1
    assert [m.to for m in outbox] == [["nora@example.net"]]
    assert "ready" in outbox[0].subject


def test_reject_with_reason(admin_client, site, outbox, run_commits):
    req = factories.SignupRequestFactory(site=site, email="nora@example.net")
    with run_commits():
        admin_client.post(f"/hub/alerts/requests/{req.pk}/reject/", {"reason": "Staff only."})
    req.refresh_from_db()
    assert (req.status, req.rejection_reason) == ("rejected", "Staff only.")
    assert "Staff only." in outbox[0].body and "declined" in outbox[0].subject


def test_deciding_twice_answers_409_with_who_and_when(admin_client, site, full_admin):
    req = factories.SignupRequestFactory(site=site)
    admin_client.post(f"/hub/alerts/requests/{req.pk}/approve/")
    for action in ["approve", "reject"]:
        again = admin_client.post(f"/hub/alerts/requests/{req.pk}/{action}/")
        assert again.status_code == 409
        html = again.content.decode()
        # Hub times are UTC, and say so.
        assert re.search(r"Already approved by Ana Admin at \d\d:\d\d UTC", html)
        assert "Times are shown in UTC." in html
    assert AuditEvent.objects.count() == 1


def test_address_of_another_organization_is_refused_and_stays_pending(
    admin_client, site, other_org
):
    factories.PersonFactory(organization=other_org, email="gus@globex.example")
    req = factories.SignupRequestFactory(site=site, email="gus@globex.example")
    page = admin_client.get(f"/hub/alerts/requests/{req.pk}/").content.decode()
    assert 'class="alert alert-warning"' in page and "another organization" in page
    # No Approve button that could only answer with the same warning; Reject stays.
    assert f"/hub/alerts/requests/{req.pk}/approve/" not in page
    assert f"/hub/alerts/requests/{req.pk}/reject/" in page
    response = admin_client.post(f"/hub/alerts/requests/{req.pk}/approve/")
    assert response.status_code == 409
    refused = response.content.decode()
    # The refusal says it once, and offers no Approve button either.
    assert refused.count("another organization") == 1
    assert f"/hub/alerts/requests/{req.pk}/approve/" not in refused
    assert f"/hub/alerts/requests/{req.pk}/reject/" in refused
    req.refresh_from_db()
    assert req.status == "pending"
    assert not AuditEvent.objects.exists() and not OutboxEmail.objects.exists()


@pytest.mark.parametrize(
    "change, reason",
    [({"sso_enabled": True}, "through SSO"), ({"kind": "government"}, "Government sites")],
)
def test_a_site_that_became_sso_or_government_approves_nothing(
    admin_client, site, run_commits, change, reason
):
    """A request that waited while the site turned SSO or government gets no host license and
    no activation link (a password around the SSO): not one by one, in bulk, nor by rules."""
    one, two, ruled = (
        factories.SignupRequestFactory(site=site, email=f"{name}@late.example")
        for name in ("one", "two", "ruled")
    )
    Site.objects.filter(pk=site.pk).update(signup_enabled=False, **change)
    response = admin_client.post(f"/hub/alerts/requests/{one.pk}/approve/")
    assert response.status_code == 409 and reason in response.content.decode()
    with run_commits():
        bulk = admin_client.post(
            "/hub/alerts/requests/bulk/", {"action": "approve", "ids": [str(two.pk)]}
        )
    assert reason in bulk.content.decode() and "✓ Approved" not in bulk.content.decode()
    DomainPattern.objects.create(
        site=site, pattern="late.example", suffix="late.example", action="approve"
    )
    assert requests_apply_rules(site_id=site.pk) == 0
    assert set(SignupRequest.objects.values_list("status", flat=True)) == {"pending"}
    assert {one.pk, two.pk, ruled.pk} == set(SignupRequest.objects.values_list("pk", flat=True))
    assert not HostLicense.objects.exists() and not Person.objects.exists()
    assert not AuditEvent.objects.exists() and not OutboxEmail.objects.exists()


def test_bulk_says_per_request_what_happened(admin_client, site, other_org, run_commits):
    ok = make_requests(site, 3)
    done = factories.SignupRequestFactory(
        site=site, status="rejected", decided_at=timezone.now(), decision_basis="mode"
    )
    theirs = factories.PersonFactory(organization=other_org, email="taken@example.net")
    taken = factories.SignupRequestFactory(site=site, email="taken@example.net")
    foreign = factories.SignupRequestFactory(site=factories.SiteFactory(organization=other_org))
    ids = [r.pk for r in ok] + [done.pk, taken.pk, foreign.pk]
    with run_commits():
        response = admin_client.post(
            "/hub/alerts/requests/bulk/", {"action": "approve", "ids": [str(i) for i in ids]}
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("✓ Approved") == 3
    assert "Already rejected by automatic mode" in html
    assert "another organization" in html
    assert "Request not found." in html
    assert SignupRequest.objects.filter(status="approved").count() == 3
    assert SignupRequest.objects.get(pk=foreign.pk).status == "pending"
    assert SignupRequest.objects.get(pk=taken.pk).status == "pending"
    theirs.refresh_from_db()
    assert theirs.activation_nonce == ""  # the other organization's person is left alone


def test_bulk_reject_with_reason(admin_client, site, outbox, run_commits):
    reqs = make_requests(site, 4)
    with run_commits():
        admin_client.post(
            "/hub/alerts/requests/bulk/",
            {"action": "reject", "reason": "Not now.", "ids": [str(r.pk) for r in reqs]},
        )
    assert set(SignupRequest.objects.values_list("status", "rejection_reason")) == {
        ("rejected", "Not now.")
    }
    assert len(outbox) == 4


def test_bulk_ignores_ids_that_are_not_request_ids(admin_client, site):
    req = factories.SignupRequestFactory(site=site)
    odd = ["²", "٣", "1" * 30, "-1", " 7", "", "9" * 19]
    response = admin_client.post(
        "/hub/alerts/requests/bulk/", {"action": "reject", "ids": [*odd, str(req.pk)]}
    )
    assert response.status_code == 200
    assert [o.request_id for o in response.context["outcomes"]] == [req.pk]


def test_bulk_without_selection_explains(admin_client, site):
    response = admin_client.post("/hub/alerts/requests/bulk/", {"action": "approve"}, follow=True)
    assert b"Tick one or more requests" in response.content


# Session, user, administrator, the page's rows (one query), the site filter's list; the
# detail page (of a pending request) reads the request, whether its address is another
# organization's (its administrators', then its people's), its emails and its events. The
# same at 10 and at 1,000 requests.
QUEUE_QUERIES, DETAIL_QUERIES = 5, 8


@pytest.mark.parametrize("size", [10, 1000])
def test_queue_and_detail_query_counts_do_not_grow(
    admin_client, site, size, django_assert_num_queries
):
    pending_requests_create(site, size)
    req = SignupRequest.objects.order_by("pk").first()
    OutboxEmail.objects.create(
        idempotency_key="x", kind="request_received", to_email="b@x.y", request=req
    )
    with django_assert_num_queries(QUEUE_QUERIES):
        assert admin_client.get("/hub/alerts/requests/").status_code == 200
    with django_assert_num_queries(QUEUE_QUERIES):
        assert admin_client.get("/hub/alerts/requests/?status=all&q=b1").status_code == 200
    with django_assert_num_queries(DETAIL_QUERIES):
        assert admin_client.get(f"/hub/alerts/requests/{req.pk}/").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/hub/alerts/requests/?q=a%00b",
        "/hub/alerts/requests/?status=all&site=%00",
        "/hub/people/?q=%00",
        "/hub/alerts/audit/?site=%00",
    ],
)
def test_a_nul_in_a_search_or_filter_is_ignored(admin_client, site, url):
    """PostgreSQL text can't hold a NUL: the filter drops it rather than failing with a 500."""
    factories.SignupRequestFactory(site=site, email="ab@example.net")
    assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize("bulk", [False, True])
def test_a_nul_in_a_rejection_reason_is_dropped(admin_client, site, bulk):
    req = factories.SignupRequestFactory(site=site)
    if bulk:
        data = {"action": "reject", "ids": [str(req.pk)], "reason": "Not\x00 now."}
        admin_client.post("/hub/alerts/requests/bulk/", data)
    else:
        admin_client.post(f"/hub/alerts/requests/{req.pk}/reject/", {"reason": "Not\x00 now."})
    req.refresh_from_db()
    assert (req.status, req.rejection_reason) == ("rejected", "Not now.")


def test_switching_language_on_a_page_answering_a_post_comes_back_to_a_page(admin_client, site):
    """The bulk result and a refused decision answer addresses that take POSTs only: the
    language switcher comes back to the queue and to the request's page, not to a 405."""
    req = factories.SignupRequestFactory(site=site)
    admin_client.post(f"/hub/alerts/requests/{req.pk}/reject/")
    refused = admin_client.post(f"/hub/alerts/requests/{req.pk}/approve/")
    bulk = admin_client.post("/hub/alerts/requests/bulk/", {"action": "reject", "ids": [req.pk]})
    for response, page in [(refused, f"/hub/alerts/requests/{req.pk}/"), (bulk, "/hub/alerts/")]:
        next_url = re.search(r'name="next" value="([^"]+)"', response.content.decode())[1]
        assert next_url.startswith(page)
        switched = admin_client.post("/i18n/setlang/", {"language": "fr", "next": next_url})
        assert admin_client.get(switched.url).status_code == 200


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_request_purged_while_the_decision_comes_is_not_found(admin_client, site, action):
    from orgs import permissions

    req = factories.SignupRequestFactory(site=site, status="unconfirmed")
    found = permissions.get_request_for

    def found_then_purged(*args, **kwargs):
        request = found(*args, **kwargs)
        SignupRequest.objects.filter(pk=request.pk).delete()
        return request

    with mock.patch("alerts.views.get_request_for", found_then_purged):
        response = admin_client.post(f"/hub/alerts/requests/{req.pk}/{action}/")
    assert response.status_code == 404


def test_bulk_beyond_its_limit_says_which_requests_were_not_decided(admin_client, site):
    reqs = make_requests(site, 502)
    ids = [str(r.pk) for r in reqs]
    response = admin_client.post("/hub/alerts/requests/bulk/", {"action": "reject", "ids": ids})
    outcomes = {o.request_id: o for o in response.context["outcomes"]}
    assert set(outcomes) == {r.pk for r in reqs}
    left = [o for o in outcomes.values() if not o.ok]
    assert len(left) == 2 and all("at most 500 requests at once" in o.message for o in left)
    assert SignupRequest.objects.filter(status="rejected").count() == 500


def test_search_finds_an_address_by_its_unicode_domain_as_shown(admin_client, site):
    """The queue shows `anna@bücher.example`; addresses are stored with the A-label."""
    factories.SignupRequestFactory(
        site=site, email="anna@bücher.example", email_normalized="anna@xn--bcher-kva.example"
    )
    factories.SignupRequestFactory(site=site, email="bob@example.net")
    for query in ["anna@bücher.example", "Bücher", "xn--bcher-kva", "anna"]:
        page = admin_client.get("/hub/alerts/requests/", {"q": query})
        assert [r.email for r in page.context["page"].items] == ["anna@bücher.example"], query
    # A non-ASCII local part (refused by the form now, but stored before) is found as typed.
    factories.SignupRequestFactory(site=site, email="josé@example.com")
    page = admin_client.get("/hub/alerts/requests/", {"q": "josé"})
    assert [r.email for r in page.context["page"].items] == ["josé@example.com"]


def test_search_ignores_the_case_of_every_letter(admin_client, site):
    """`élodie` finds Élodie and `MÜLLER` Müller, on SQLite (`make run`) as on PostgreSQL."""
    factories.SignupRequestFactory(
        site=site, email="elodie@example.net", first_name="Élodie", last_name="Müller"
    )
    factories.SignupRequestFactory(site=site, email="eve@example.net", first_name="Eve")
    for query in ["élodie", "ÉLODIE", "Élodie", "müller", "MÜLLER", "élodie müller"]:
        page = admin_client.get("/hub/alerts/requests/", {"q": query})
        assert [r.email for r in page.context["page"].items] == ["elodie@example.net"], query
    factories.PersonFactory(
        organization=site.organization, email="p@example.net", first_name="Élodie"
    )
    factories.PersonFactory(organization=site.organization, email="q@example.net")
    people = admin_client.get("/hub/people/", {"q": "élodie"}).content.decode()
    assert "p@example.net" in people and "q@example.net" not in people


def test_another_organizations_administrator_is_refused_like_its_people(
    admin_client, site, other_org, full_admin, run_commits
):
    """An address that signs in as another organization's administrator is that
    organization's: the request waits, with the warning, and approving it is refused."""
    from orgs.models import Administrator

    theirs = factories.UserFactory(email="gus@globex.example")
    factories.AdministratorFactory(
        user=theirs, organization=other_org, role=Administrator.Role.FULL
    )
    req = factories.SignupRequestFactory(site=site, email="Gus@Globex.example")
    page = admin_client.get(f"/hub/alerts/requests/{req.pk}/").content.decode()
    assert "another organization" in page
    assert admin_client.post(f"/hub/alerts/requests/{req.pk}/approve/").status_code == 409
    with run_commits():
        bulk = admin_client.post(
            "/hub/alerts/requests/bulk/", {"action": "approve", "ids": [str(req.pk)]}
        )
    assert "another organization" in bulk.content.decode()
    added = admin_client.post(
        "/hub/people/add/",
        {"email": "gus@globex.example", "first_name": "Gus", "last_name": "G"},
    )
    assert added.status_code == 200
    req.refresh_from_db()
    assert req.status == "pending" and not Person.objects.exists()


def test_an_empty_list_spans_exactly_the_columns_shown(admin_client, site):
    pending = admin_client.get("/hub/alerts/requests/").content.decode()
    assert '<th class="check">' in pending and 'colspan="7"' in pending
    approved = admin_client.get("/hub/alerts/requests/?status=approved").content.decode()
    assert '<th class="check">' not in approved and 'colspan="6"' in approved


@pytest.mark.parametrize(
    "path", ["/hub/alerts/requests/", "/hub/people/", "/hub/alerts/audit/", "request"]
)
def test_tables_that_scroll_on_a_phone_can_be_reached_by_keyboard(admin_client, site, path):
    if path == "request":
        path = f"/hub/alerts/requests/{factories.SignupRequestFactory(site=site).pk}/"
    html = admin_client.get(path).content.decode()
    wraps = re.findall(r'<\w+ [^>]*class="table-wrap"[^>]*>', html)
    assert wraps and all('tabindex="0"' in w and "aria-label=" in w for w in wraps), wraps


def _failed(key: str, *, organization, request=None, kind="host_ready", status="failed"):
    return OutboxEmail.objects.create(
        idempotency_key=key,
        kind=kind,
        to_email=f"{key}@example.net",
        organization=organization,
        request=request,
        status=status,
        attempts=10,
        last_error="SMTPRecipientsRefused: 550 no such user",
    )


def test_failed_emails_are_listed_and_sent_again_from_the_alerts_center(
    client, org, site, other_site, other_org, full_admin, readonly_admin, site_admin, run_commits
):
    """An email about no request (Add person's "Your host account is ready") that failed is
    found without opening requests one by one, and sent again from there."""
    on_site = _failed(
        "on-site", organization=org, request=factories.SignupRequestFactory(site=site)
    )
    on_other = _failed(
        "on-other", organization=org, request=factories.SignupRequestFactory(site=other_site)
    )
    added = _failed("added", organization=org)
    _failed("delivered", organization=org, status="queued")
    theirs = _failed("theirs", organization=other_org)

    client.force_login(full_admin)
    overview = client.get("/hub/").content.decode()
    assert "3 emails could not be delivered in the last 7 days." in overview
    page = client.get("/hub/alerts/emails/").content.decode()
    for email in [on_site, on_other, added]:
        assert email.to_email in page
    assert "delivered@" not in page and "theirs@" not in page
    assert page.count(">Send again</button>") == 3
    with run_commits():
        response = client.post(f"/hub/alerts/emails/{added.pk}/resend/", follow=True)
    assert response.redirect_chain[-1][0] == "/hub/alerts/emails/"
    assert "The email will be sent again." in response.content.decode()
    added.refresh_from_db()
    assert added.status in ("queued", "sent")
    assert AuditEvent.objects.filter(action="email_resent", actor=full_admin).count() == 1
    again = client.post(f"/hub/alerts/emails/{added.pk}/resend/", follow=True)
    assert "not in the failed state" in again.content.decode()
    assert client.post(f"/hub/alerts/emails/{theirs.pk}/resend/").status_code == 404

    client.force_login(readonly_admin)
    page = client.get("/hub/alerts/emails/").content.decode()
    assert on_site.to_email in page and ">Send again</button>" not in page
    assert client.post(f"/hub/alerts/emails/{on_site.pk}/resend/").status_code == 403

    # A site administrator (of other_site): the emails about their site's requests only.
    client.force_login(site_admin)
    page = client.get("/hub/alerts/emails/").content.decode()
    assert on_other.to_email in page
    assert on_site.to_email not in page and "added@" not in page
    assert client.post(f"/hub/alerts/emails/{on_site.pk}/resend/").status_code == 404
    theirs.refresh_from_db()
    on_site.refresh_from_db()
    assert theirs.status == on_site.status == "failed"


def test_failed_emails_that_no_try_could_deliver_usefully_are_left_out(
    client, org, full_admin, run_commits
):
    """A confirmation whose request was purged (its link leads nowhere) and a kind no longer
    sent are not listed nor sent again; one that failed long ago is listed, not counted on the
    Overview (nobody may be able to fix it)."""
    purged = _failed("purged", organization=org, kind="confirm_email")
    retired = _failed("retired", organization=org, kind="other_organization")
    old = _failed("old", organization=org)
    long_ago = timezone.now() - timedelta(days=8)
    OutboxEmail.objects.filter(pk=old.pk).update(created_at=long_ago, updated_at=long_ago)
    client.force_login(full_admin)
    assert "could not be delivered" not in client.get("/hub/").content.decode()
    # Made long ago, failed again today (a Send again): counted.
    OutboxEmail.objects.filter(pk=old.pk).update(updated_at=timezone.now())
    assert "1 email could not be delivered" in client.get("/hub/").content.decode()
    page = client.get("/hub/alerts/emails/").content.decode()
    assert "old@example.net" in page
    assert "purged@" not in page and "retired@" not in page
    for email in [purged, retired]:
        with run_commits():
            response = client.post(f"/hub/alerts/emails/{email.pk}/resend/", follow=True)
        assert "can&#x27;t be sent again" in response.content.decode()
        email.refresh_from_db()
        assert email.status == "failed"
