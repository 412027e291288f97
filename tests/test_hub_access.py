"""Hub sign-in, and a sweep of every hub URL with every role: the answer, and nothing changed."""

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from alerts.models import AuditEvent
from mail.models import OutboxEmail
from orgs.models import Person
from selfsignup import hub_urls
from signup.models import SignupRequest
from sites.models import DomainPattern, Site
from tests import factories


def test_login_page_has_the_contract_labels(client, db):
    html = client.get("/hub/login/").content.decode()
    assert '<label for="id_username">Email</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert ">Sign in</button>" in html


def test_sign_in_and_out(client, full_admin):
    response = client.post(
        "/hub/login/", {"username": "Ana@Acme.example", "password": factories.PASSWORD}
    )
    assert response.status_code == 302 and response.url == "/hub/"
    page = client.get("/hub/")
    assert page.status_code == 200 and b"Ana Admin" in page.content and b"Acme" in page.content
    client.post("/hub/logout/")
    assert client.get("/hub/").status_code == 302


def test_sign_in_rotates_the_session(client, full_admin):
    client.get("/hub/login/")
    client.cookies["sessionid"] = "attacker-chosen-session-key"
    client.post("/hub/login/", {"username": full_admin.email, "password": factories.PASSWORD})
    assert client.cookies["sessionid"].value != "attacker-chosen-session-key"


def test_wrong_password_and_non_admin_are_refused(client, full_admin, site):
    bad = client.post("/hub/login/", {"username": full_admin.email, "password": "nope"})
    assert bad.status_code == 200 and b"alert-error" in bad.content
    host = factories.UserFactory(email="host@example.net")
    refused = client.post("/hub/login/", {"username": host.email, "password": factories.PASSWORD})
    assert refused.status_code == 200 and b"isn&#x27;t an administrator" in refused.content
    client.force_login(host)
    assert client.get("/hub/").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get("/hub/alerts/requests/")
    assert response.status_code == 302
    assert response.url.startswith("/hub/login/?next=")


# --- The sweep --------------------------------------------------------------------------------


@pytest.fixture
def world(
    site, other_site, full_admin, site_admin, readonly_admin, other_org_admin, other_org_site
):
    """Acme's objects, that the other roles must not reach."""
    req = factories.SignupRequestFactory(site=site, email="pending@example.net")
    email = OutboxEmail.objects.create(
        idempotency_key="sweep",
        kind="request_received",
        to_email=req.email,
        request=req,
        organization=site.organization,
        status="failed",
        attempts=6,
    )
    DomainPattern.objects.create(
        site=site, pattern="keep.example", suffix="keep.example", action="approve"
    )
    return {"site": site, "request": req, "email": email}


def snapshot():
    return (
        list(SignupRequest.objects.values_list("pk", "status", "decided_at").order_by("pk")),
        list(
            Site.objects.values_list("pk", "signup_enabled", "mode", "required_fields").order_by(
                "pk"
            )
        ),
        list(DomainPattern.objects.values_list("pattern", "action").order_by("pattern")),
        AuditEvent.objects.count(),
        list(OutboxEmail.objects.values_list("pk", "status").order_by("pk")),
        Person.objects.count(),
    )


def hub_urls_for(world) -> list[tuple[str, str]]:
    """Every hub URL in the URLconf, with Acme's objects in its arguments."""
    values = {"slug": world["site"].slug, "pk": world["request"].pk, "email_id": world["email"].pk}
    urls = []
    for pattern in hub_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {name: values[name] for name in pattern.pattern.converters}
        urls.append((pattern.name, reverse(f"hub:{pattern.name}", kwargs=kwargs)))
    return urls


OBJECT_URLS = {
    "site_settings",
    "request_detail",
    "request_approve",
    "request_reject",
    "email_resend",
    "failed_email_resend",
}
POST_ONLY = {
    "request_approve",
    "request_reject",
    "email_resend",
    "failed_email_resend",
    "requests_bulk",
}
POST_DATA = {
    "signup_enabled": "on",
    "mode": "automatic",
    "other_domains": "approve",
    "notify": "full_admins",
    "approve_entries": "evil.example",
    "action": "approve",
    "ids": [],
    "reason": "x",
    "first_name": "N",
    "last_name": "N",
}
SKIP = {"login", "logout"}


@pytest.mark.parametrize("role", ["anonymous", "site_admin", "readonly", "other_org"])
def test_every_hub_url_with_every_role(
    world, role, full_admin, site_admin, readonly_admin, other_org_admin
):
    user = {
        "anonymous": None,
        "site_admin": site_admin,
        "readonly": readonly_admin,
        "other_org": other_org_admin,
    }[role]
    client = Client()
    if user:
        client.force_login(user)
    before = snapshot()
    checked = 0
    for name, url in hub_urls_for(world):
        if name in SKIP:
            continue
        data = POST_DATA | {"ids": [str(world["request"].pk)]}
        get, post = client.get(url), client.post(url, data)
        if role == "anonymous":
            assert get.status_code == 302 and "/hub/login/" in get.url, url
            assert post.status_code == 302 and "/hub/login/" in post.url, url
        elif role == "readonly":
            assert post.status_code == 403, url
            expected = 403 if name == "person_add" else 405 if name in POST_ONLY else 200
            assert get.status_code == expected, url
        else:
            if name in OBJECT_URLS:
                assert get.status_code in (404, 405), url
                assert post.status_code == 404, url
            elif name == "person_add":
                # Only full administrators add people (to their own organization).
                expected = 200 if role == "other_org" else 403
                assert get.status_code == expected and post.status_code == expected, url
            else:
                assert get.status_code in (200, 405), url
                assert post.status_code in (200, 302), url
                assert b"pending@example.net" not in get.content, url
                assert b"pending@example.net" not in post.content or name == "requests_bulk"
        checked += 1
    assert checked == len(hub_urls.urlpatterns) - len(SKIP)
    assert snapshot() == before


def test_full_admin_reaches_every_page(world, full_admin, client):
    client.force_login(full_admin)
    for name, url in hub_urls_for(world):
        if name in SKIP:
            continue
        status = client.get(url).status_code
        expected = 405 if name in POST_ONLY else 200
        assert status == expected, url


def test_site_admin_sees_and_decides_only_their_sites(client, site, other_site, site_admin):
    mine = factories.SignupRequestFactory(site=other_site, email="mine@example.net")
    theirs = factories.SignupRequestFactory(site=site, email="theirs@example.net")
    client.force_login(site_admin)
    queue = client.get("/hub/alerts/requests/").content
    assert b"mine@example.net" in queue and b"theirs@example.net" not in queue
    sites = client.get("/hub/meetings/sites/").content.decode()
    # Each site's name opens its settings (Meetings › Sites › (a site) › Settings).
    settings_link = f'<a href="/hub/meetings/sites/{other_site.slug}/settings/">Acme Labs</a>'
    assert settings_link in sites and ">Acme</a>" not in sites
    assert client.post(f"/hub/alerts/requests/{theirs.pk}/approve/").status_code == 404
    assert client.post(f"/hub/alerts/requests/{mine.pk}/approve/").status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == ("approved", "pending")


def test_readonly_sees_no_buttons(client, site, readonly_admin):
    req = factories.SignupRequestFactory(site=site)
    client.force_login(readonly_admin)
    detail = client.get(f"/hub/alerts/requests/{req.pk}/").content.decode()
    assert ">Approve</button>" not in detail and ">Reject</button>" not in detail
    settings = client.get(f"/hub/meetings/sites/{site.slug}/settings/").content.decode()
    assert ">Save</button>" not in settings
    queue = client.get("/hub/alerts/requests/").content.decode()
    assert 'name="ids"' not in queue
