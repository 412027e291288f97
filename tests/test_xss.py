"""Stored XSS and header injection: hostile input from the public form stays inert everywhere
it shows: the queue, the request page, people, the audit trail and every email."""

from html.parser import HTMLParser

import pytest
from django.utils.html import escape

from mail.models import OutboxEmail
from signup.models import SignupRequest
from sites.services import SettingsValues, site_settings_update
from tests.helpers import human

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)' x='",
    "javascript:alert(1)",
    "</textarea><svg onload=alert(1)>",
    "{{ 7|add:7 }}{% debug %}",
    "%(name)s %s",
]
HEADER_INJECTIONS = ["Eve\r\nBcc: victim@example.org", "Eve\nSubject: hi", "Eve\rX: y"]


@pytest.fixture
def stored(client, site, full_admin, run_commits):
    site_settings_update(
        site_id=site.pk,
        acting_user=None,
        values=SettingsValues(
            signup_enabled=True,
            require_confirmation=False,
            required_fields=["first_name", "last_name", "company", "job_title"],
        ),
    )
    for i, payload in enumerate(PAYLOADS):
        with run_commits():
            answer = client.post(
                f"/sites/{site.slug}/signup/",
                human(
                    {
                        "email": f"x{i}@example.net",
                        "first_name": payload,
                        "last_name": payload,
                        "company": payload,
                        "job_title": payload,
                    }
                ),
            )
        assert answer.status_code == 200
    assert SignupRequest.objects.count() == len(PAYLOADS)
    client.force_login(full_admin)
    return client


class ActiveContent(HTMLParser):
    """Collects what a browser would run: scripts, event handlers, javascript: links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "svg", "img", "iframe", "object"):
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag}[{name}]")


def assert_inert(html: str, where: str) -> None:
    for payload in PAYLOADS:
        if any(ch in payload for ch in "<>\"'"):
            assert payload not in html, f"{where}: raw {payload!r}"
    parser = ActiveContent()
    parser.feed(html)
    assert parser.found == [], f"{where}: {parser.found}"


def test_payloads_are_inert_in_every_page(stored, site, run_commits):
    pages = ["/hub/alerts/requests/", "/hub/alerts/requests/?q=script"]
    pages += [f"/hub/alerts/requests/{r.pk}/" for r in SignupRequest.objects.all()]
    for path in pages:
        html = stored.get(path).content.decode()
        assert_inert(html, path)
    detail = stored.get(f"/hub/alerts/requests/{SignupRequest.objects.first().pk}/").content
    assert escape(PAYLOADS[0]).encode() in detail  # shown, as text
    with run_commits():
        stored.post(
            "/hub/alerts/requests/bulk/",
            {"action": "approve", "ids": [str(r.pk) for r in SignupRequest.objects.all()]},
        )
    for path in ["/hub/people/", "/hub/alerts/audit/", "/hub/"]:
        assert_inert(stored.get(path).content.decode(), path)


def test_payloads_are_inert_in_every_email(outbox, stored, run_commits):
    with run_commits():
        stored.post(
            "/hub/alerts/requests/bulk/",
            {
                "action": "reject",
                "reason": PAYLOADS[1],
                "ids": [str(r.pk) for r in SignupRequest.objects.all()],
            },
        )
    assert len(outbox) == 3 * len(PAYLOADS)  # received, the reviewers' notice, declined
    for message in outbox:
        html = message.alternatives[0][0]
        assert_inert(html, f"email {message.subject}")
        raw = message.message().as_string()
        headers = raw.split("\n\n", 1)[0]
        assert "Bcc" not in headers and "onerror" not in headers
        assert "\n" not in message.subject and "\r" not in message.subject


@pytest.mark.parametrize("name", HEADER_INJECTIONS)
def test_line_breaks_never_reach_storage_or_headers(client, site, name, run_commits):
    with run_commits():
        answer = client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "eve@example.net", "first_name": name, "last_name": "X"}),
        )
    assert answer.status_code == 200 and "first_name" in answer.context["form"].errors
    injected_email = client.post(
        f"/sites/{site.slug}/signup/",
        human(
            {
                "email": "eve@example.net\r\nBcc: victim@example.org",
                "first_name": "E",
                "last_name": "X",
            }
        ),
    )
    assert "email" in injected_email.context["form"].errors
    assert not SignupRequest.objects.exists() and not OutboxEmail.objects.exists()


def test_the_status_badge_escapes_what_it_is_given():
    from alerts.templatetags.alerts_tags import status_badge

    assert status_badge('x" onmouseover="alert(1)', "<script>") == (
        '<span class="status status-x&quot; onmouseover=&quot;alert(1)">&lt;script&gt;</span>'
    )
