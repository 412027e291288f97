"""Account Management settings in the hub (SPEC sections 3, 4 and 7)."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from alerts.models import AuditEvent
from alerts.services import rules_sweep
from alerts.tasks import apply_rules_to_pending
from signup.models import SignupRequest
from sites.models import DomainPattern, Site
from sites.services import SettingsValues, site_settings_update
from tests import factories

LABELS = [
    "Allow host account sign-up",
    "Email domains to automatically approve",
    "Email domains to automatically reject",
    "Automatically approve or reject host account requests",
    "Review host account requests",
    "Send review notification email to",
    "Require email confirmation before review",
    "Require for account creation",
]


def url(site) -> str:
    return f"/hub/meetings/sites/{site.slug}/settings/"


def form_data(**changes) -> dict:
    data = {
        "signup_enabled": "on",
        "approve_entries": "",
        "reject_entries": "",
        "mode": "review",
        "other_domains": "approve",
        "notify": "full_admins",
        "notify_addresses": "",
        "require_confirmation": "on",
        "required_fields": ["first_name", "last_name"],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def admin_client(client, full_admin):
    client.force_login(full_admin)
    return client


def test_page_shows_every_setting_with_its_label(admin_client, site):
    html = admin_client.get(url(site)).content.decode()
    for label in LABELS:
        assert label in html, label
    assert ">Save</button>" in html
    assert html.count("<label") >= 20  # every input has a visible label
    # The radio groups carry the setting names of SPEC section 3, once each, as their names.
    for name in [
        "Mode",
        "Requests from other domains (automatic mode only)",
        "Send review notification email to",
    ]:
        legend = re.search(rf'<legend[^>]* id="([\w-]+)">{re.escape(name)}</legend>', html)
        assert legend, name
        assert html.count(f'aria-labelledby="{legend.group(1)}"') == 1
        assert html.count(f">{name}<") == 1


def test_save_changes_settings_and_records_the_audit(admin_client, site, full_admin):
    response = admin_client.post(
        url(site),
        form_data(
            approve_entries="Bücher.example\n*.ACME.com.",
            reject_entries="spam.example, junk.example",
            mode="automatic",
            other_domains="reject",
            require_confirmation=None,
            required_fields=["first_name", "phone", "address"],
        ),
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.signup_enabled, site.mode, site.other_domains) == (True, "automatic", "reject")
    assert site.require_confirmation is False
    assert site.required_fields == ["first_name", "phone", "address"]
    assert set(DomainPattern.objects.values_list("pattern", "action")) == {
        ("xn--bcher-kva.example", "approve"),
        ("*.acme.com", "approve"),
        ("spam.example", "reject"),
        ("junk.example", "reject"),
    }
    event = AuditEvent.objects.get(action="settings_updated")
    assert event.actor == full_admin and event.site == site
    assert event.changes["mode"] == ["review", "automatic"]
    assert "approve:xn--bcher-kva.example" in event.changes["patterns_added"]
    # Shown back in Unicode.
    page = admin_client.get(url(site)).content.decode()
    assert "bücher.example" in page
    audit = admin_client.get("/hub/alerts/audit/").content.decode()
    assert "Ana Admin" in audit and "bücher.example (approve)" in audit


def test_saving_nothing_new_writes_no_audit(admin_client, site):
    admin_client.post(url(site), form_data())
    count = AuditEvent.objects.count()
    admin_client.post(url(site), form_data())
    assert AuditEvent.objects.count() == count


def test_the_addresses_are_kept_while_another_recipient_choice_is_made(admin_client, site):
    addresses = "boss@acme.example\nops@acme.example"
    admin_client.post(url(site), form_data(notify="addresses", notify_addresses=addresses))
    admin_client.post(url(site), form_data(notify="site_admins", notify_addresses=addresses))
    site.refresh_from_db()
    assert site.notify == "site_admins"
    assert site.notify_addresses == ["boss@acme.example", "ops@acme.example"]
    page = admin_client.get(url(site)).content.decode()
    assert "boss@acme.example\nops@acme.example</textarea>" in page
    # Only the choice changed.
    assert AuditEvent.objects.latest("pk").changes == {"notify": ["addresses", "site_admins"]}


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"approve_entries": "ok.example\nnot a domain"}, "approve_entries", "not a domain"),
        ({"reject_entries": "*.com"}, "reject_entries", "“*.com” would cover a whole top-level"),
        ({"approve_entries": "com"}, "approve_entries", "“com” would cover a whole top-level"),
        (
            {"approve_entries": "both.example", "reject_entries": "BOTH.example."},
            "reject_entries",
            "both.example",
        ),
        (
            {"notify": "addresses", "notify_addresses": "boss@acme.example\nnot-an-address"},
            "notify_addresses",
            "not-an-address",
        ),
        # As the sign-up form refuses them: a Kelvin sign that lower-cases into "kate@", a
        # control character in a quoted local part.
        (
            {"notify": "addresses", "notify_addresses": "\u212aate@acme.example"},
            "notify_addresses",
            "ate@acme.example",
        ),
        (
            {"notify": "addresses", "notify_addresses": '"a\x01b"@acme.example'},
            "notify_addresses",
            "is not a valid email address",
        ),
        ({"notify": "addresses", "notify_addresses": ""}, "notify_addresses", "between 1 and 30"),
        (
            {
                "notify": "addresses",
                "notify_addresses": "\n".join(f"a{i}@acme.example" for i in range(31)),
            },
            "notify_addresses",
            "between 1 and 30",
        ),
        ({"required_fields": ["first_name", "shoe_size"]}, "required_fields", ""),
        ({"mode": "sometimes"}, "mode", ""),
    ],
)
def test_bad_settings_are_refused_naming_the_entry(admin_client, site, changes, field, named):
    before = list(Site.objects.values_list("mode", "notify", "required_fields"))
    response = admin_client.post(url(site), form_data(**changes))
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors[field])
    assert named in errors
    assert list(Site.objects.values_list("mode", "notify", "required_fields")) == before
    assert not DomainPattern.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("kind", "sso", "reason"), [("government", False, "Government"), ("commercial", True, "SSO")]
)
def test_government_and_sso_sites_refuse_sign_up(admin_client, org, kind, sso, reason):
    site = factories.SiteFactory(organization=org, kind=kind, sso_enabled=sso, signup_enabled=False)
    page = admin_client.get(url(site)).content.decode()
    assert reason in page
    assert 'name="signup_enabled"' in page and "disabled" in page
    forged = admin_client.post(url(site), form_data(signup_enabled="on"))
    assert forged.status_code == 200
    assert "signup_enabled" in forged.context["form"].errors
    site.refresh_from_db()
    assert site.signup_enabled is False
    # Other settings can still be saved while sign-up stays off.
    ok = admin_client.post(url(site), form_data(signup_enabled=None, mode="automatic"))
    assert ok.status_code == 302


@pytest.mark.parametrize(
    ("address", "verdict", "shown"),
    [
        ("bob@acme.example", "Approved automatically", "acme.example"),
        ("eve@x.spam.example", "Rejected automatically", "*.spam.example"),
        ("someone@elsewhere.example", "Waits for review", "Review mode"),
    ],
)
def test_test_an_address(admin_client, site, address, verdict, shown):
    admin_client.post(
        url(site), form_data(approve_entries="acme.example", reject_entries="*.spam.example")
    )
    html = admin_client.get(url(site), {"address": address}).content.decode()
    assert verdict in html and shown in html


def test_test_an_address_on_an_sso_site_says_sign_up_is_not_supported(admin_client, site):
    site.sso_enabled, site.signup_enabled = True, False
    site.save()
    html = admin_client.get(url(site), {"address": "bob@acme.example"}).content.decode()
    assert "Approved automatically" not in html and "Waits for review" not in html
    assert 'class="test-result alert alert-info" role="status"><p>This site signs people' in html


# Addresses an email field accepts but whose domain IDNA refuses (or that have no domain).
ODD_ADDRESSES = [
    "a@xn--zz.com",
    "a@ab--c.com",
    "a@\u200d.com",
    "a@b.com\ufe52",
    "a@b.com\u3002\u3002",
]


@pytest.mark.parametrize("address", ODD_ADDRESSES)
def test_test_an_address_refuses_what_it_cannot_read(admin_client, site, address):
    response = admin_client.get(url(site), {"address": address})
    assert response.status_code == 200
    assert response.context["test_form"].errors["address"] == ["Enter a valid email address."]


def test_readonly_admin_can_test_an_address(client, site, readonly_admin):
    client.force_login(readonly_admin)
    response = client.get(url(site), {"address": "x@example.net"})
    assert response.status_code == 200 and b"Waits for review" in response.content


def test_save_saves_and_pending_requests_wait_unless_the_rules_are_asked_to_decide(
    admin_client, site, run_commits
):
    for email in ["a@partner.example", "b@partner.example", "c@spam.example", "d@other.example"]:
        factories.SignupRequestFactory(site=site, email=email)
    data = form_data(approve_entries="partner.example", reject_entries="spam.example")
    with run_commits():
        assert admin_client.post(url(site), data).status_code == 302
    assert DomainPattern.objects.filter(site=site).count() == 2
    assert set(SignupRequest.objects.values_list("status", flat=True)) == {"pending"}
    html = admin_client.get(url(site)).content.decode()
    assert "4 requests on this site wait for review." in html
    assert "The saved rules would approve 2 and reject 1 of them." in html
    assert 'value="keep" id="pending-keep" checked' in html
    with run_commits():
        saved = admin_client.post(url(site), data | {"pending_action": "decide"})
    assert saved.status_code == 302
    statuses = dict(SignupRequest.objects.values_list("email", "status"))
    assert statuses == {
        "a@partner.example": "approved",
        "b@partner.example": "approved",
        "c@spam.example": "rejected",
        "d@other.example": "pending",
    }
    assert SignupRequest.objects.get(email="a@partner.example").decision_pattern == (
        "partner.example"
    )
    html = admin_client.get(url(site)).content.decode()
    assert "1 request on this site waits for review." in html
    assert "The saved rules would" not in html


def test_the_preview_leaves_out_addresses_no_approval_can_take(
    admin_client, site, other_org, run_commits
):
    """Another organization's addresses (a person, an administrator's login) stay pending
    whatever the rules say: the figures don't promise their approval."""
    factories.PersonFactory(organization=other_org, email="gus@partner.example")
    factories.AdministratorFactory(
        organization=other_org, user=factories.UserFactory(email="boss@partner.example")
    )
    for email in ["a@partner.example", "gus@partner.example", "boss@partner.example"]:
        factories.SignupRequestFactory(site=site, email=email)
    data = form_data(approve_entries="partner.example")
    with run_commits():
        assert admin_client.post(url(site), data).status_code == 302
    html = admin_client.get(url(site)).content.decode()
    assert "3 requests on this site wait for review." in html
    assert "The saved rules would approve 1 and reject 0 of them." in html
    with run_commits():
        assert admin_client.post(url(site), data | {"pending_action": "decide"}).status_code == 302
    assert SignupRequest.objects.get(email="a@partner.example").status == "approved"
    held = SignupRequest.objects.get(email="gus@partner.example")
    assert (held.status, held.decision_basis, held.decision_pattern) == (
        "pending",
        "held",
        "partner.example",
    )
    assert "could not be approved automatically" in held.decision_reason
    # The rule goes (saved with the default "keep"): the request waits like any other, its
    # reason naming no rule, on its page too.
    with run_commits():
        assert admin_client.post(url(site), form_data()).status_code == 302
    held.refresh_from_db()
    page = admin_client.get(f"/hub/alerts/requests/{held.pk}/").content.decode()
    assert "Review mode: an administrator decides." in page and "partner.example in" not in page
    assert (held.decision_basis, held.decision_pattern) == ("mode", "")
    assert held.decision_reason == "Review mode: an administrator decides."
    with run_commits():
        assert admin_client.post(url(site), data).status_code == 302
    html = admin_client.get(url(site)).content.decode()
    assert "2 requests on this site wait for review." in html
    assert "The saved rules would" not in html


def _seen(html: str) -> dict:
    """What the page showed, as its form sends it back."""
    return dict(re.findall(r'name="(seen_impact)" value="(\w*)"', html))


def _version(html: str) -> dict:
    """Which save the page was shown after, as its form sends it back."""
    return dict(re.findall(r'name="(settings_version)" value="([^"]*)"', html))


def test_a_page_shown_before_another_save_does_not_undo_it(client, full_admin, org, site):
    """Bea changes who is notified on a page shown before Ana added a reject rule: saving it
    would remove Ana's rule unseen. Nothing is saved; Bea's changes stay on the page, which
    names Ana's save and, sent again, saves."""
    bea = factories.AdministratorFactory(
        organization=org, user=factories.UserFactory(email="bea@acme.example", full_name="Bea")
    ).user
    client.force_login(bea)
    beas_page = client.get(url(site)).content.decode()
    client.force_login(full_admin)
    anas = client.post(url(site), form_data(reject_entries="spam.example") | _version(beas_page))
    assert anas.status_code == 302
    client.force_login(bea)
    stale = client.post(url(site), form_data(notify="site_admins") | _version(beas_page))
    html = stale.content.decode()
    assert stale.status_code == 200
    assert "Ana Admin saved these settings at" in html and "Nothing is saved" in html
    assert DomainPattern.objects.filter(site=site, pattern="spam.example").exists()
    site.refresh_from_db()
    assert site.notify == "full_admins"
    assert stale.context["form"]["notify"].value() == "site_admins"  # Bea's change is kept
    assert _version(html) != _version(beas_page)
    again = client.post(url(site), form_data(notify="site_admins") | _version(html))
    assert again.status_code == 302
    site.refresh_from_db()
    assert site.notify == "site_admins"
    # A POST that doesn't come from the page (no version) is not held back.
    plain = client.post(url(site), form_data(notify="full_admins"))
    assert plain.status_code == 302


def test_a_page_is_not_stale_for_its_own_administrators_later_saves(client, full_admin, org, site):
    """Ana's page, saved once, then sent again (the Back button, a form posted twice, a second
    tab): only her own save came since, so it saves. Once Bea saves too, it is refused."""
    client.force_login(full_admin)
    page = client.get(url(site)).content.decode()
    first = client.post(url(site), form_data(reject_entries="spam.example") | _version(page))
    assert first.status_code == 302
    again = client.post(url(site), form_data(reject_entries="junk.example") | _version(page))
    assert again.status_code == 302
    assert list(site.patterns.values_list("pattern", flat=True)) == ["junk.example"]
    bea = factories.UserFactory(email="bea@acme.example", full_name="Bea")
    values = SettingsValues.of(site)
    values.notify = "site_admins"
    site_settings_update(site_id=site.pk, acting_user=bea, values=values)
    stale = client.post(url(site), form_data(reject_entries="spam.example") | _version(page))
    assert stale.status_code == 200 and "Bea saved these settings at" in stale.content.decode()
    assert list(site.patterns.values_list("pattern", flat=True)) == ["junk.example"]


def test_a_save_recorded_before_events_carried_their_version_is_aligned(site, full_admin):
    """Events written before held a time a few milliseconds after their save's version: the
    migration gives the latest its version, so a page showing it is not refused for itself."""
    from datetime import timedelta
    from importlib import import_module

    from django.apps import apps

    from alerts.models import AuditEvent
    from sites.services import SettingsChanged, settings_version

    bob = factories.UserFactory(email="bob@acme.example", full_name="Bob")
    values = SettingsValues.of(site)
    values.reject_entries = ["spam.example"]
    site_settings_update(site_id=site.pk, acting_user=bob, values=values)
    site.refresh_from_db()
    event = AuditEvent.objects.get(site=site)
    late = site.settings_updated_at + timedelta(milliseconds=3)
    AuditEvent.objects.filter(pk=event.pk).update(created_at=late)
    seen = settings_version(site)
    values.reject_entries = ["junk.example"]
    site_settings_update(site_id=site.pk, acting_user=full_admin, values=values, seen_version=seen)
    with pytest.raises(SettingsChanged):  # Bob's event looks later than the page's version
        site_settings_update(
            site_id=site.pk, acting_user=full_admin, values=values, seen_version=seen
        )
    # What the migration does on such a database (here, Ana's save is the latest: undo it).
    AuditEvent.objects.exclude(pk=event.pk).delete()
    site.settings_updated_at = seen_at = event.created_at - timedelta(milliseconds=3)
    site.save(update_fields=["settings_updated_at"])
    migration = import_module("alerts.migrations.0005_settings_events_carry_their_version")
    migration.align(apps, None)
    assert AuditEvent.objects.get(pk=event.pk).created_at == seen_at
    values.reject_entries = ["again.example"]
    for _ in range(2):  # Ana's page, sent twice: only her own save came since
        site_settings_update(
            site_id=site.pk,
            acting_user=full_admin,
            values=values,
            seen_version=seen_at.isoformat(),
        )


@pytest.mark.parametrize("version", ["not-a-version", "2026-01-01T00:00:00"])
def test_a_version_the_page_was_not_given_saves_nothing(client, full_admin, site, version):
    """Only a version this product wrote (a time with its zone) stands for a save; anything
    else shows the settings now saved."""
    client.force_login(full_admin)
    values = SettingsValues.of(site)
    values.reject_entries = ["spam.example"]
    site_settings_update(site_id=site.pk, acting_user=full_admin, values=values)
    answer = client.post(url(site), form_data(notify="site_admins") | {"settings_version": version})
    assert answer.status_code == 200 and "Nothing is saved" in answer.content.decode()
    site.refresh_from_db()
    assert site.notify == "full_admins"


def test_the_page_naming_a_save_stands_for_that_save_not_a_later_one(client, full_admin, org, site):
    """Carl saves between Ana's refused save and the page that names Bea's: sent again, that
    page is refused too (it never showed Carl's)."""
    from sites import views as site_views
    from sites.services import SettingsChanged

    carl = factories.UserFactory(email="carl@acme.example", full_name="Carl")
    client.force_login(full_admin)
    page = client.get(url(site)).content.decode()
    bea = factories.UserFactory(email="bea@acme.example", full_name="Bea")
    values = SettingsValues.of(site)
    values.reject_entries = ["spam.example"]
    site_settings_update(site_id=site.pk, acting_user=bea, values=values)
    real = site_views.site_settings_update

    def carl_saves_meanwhile(**kwargs):
        try:
            return real(**kwargs)
        except SettingsChanged:
            values.reject_entries = ["spam.example", "carl.example"]
            real(site_id=site.pk, acting_user=carl, values=values)
            raise

    with mock.patch.object(site_views, "site_settings_update", carl_saves_meanwhile):
        named = client.post(url(site), form_data(notify="site_admins") | _version(page))
    assert "Bea saved these settings" in named.content.decode()
    again = client.post(
        url(site), form_data(notify="site_admins") | _version(named.content.decode())
    )
    assert "Carl saved these settings" in again.content.decode()
    assert DomainPattern.objects.filter(site=site, pattern="carl.example").exists()


def test_the_confirmation_step_stands_for_the_page_first_shown(client, full_admin, org, site):
    """Asked to confirm what the rules decide, the page still stands for the save it was first
    shown after: a save made meanwhile is not undone by confirming."""
    factories.SignupRequestFactory(site=site, email="a@partner.example")
    client.force_login(full_admin)
    page = client.get(url(site)).content.decode()
    values = SettingsValues.of(site)
    values.reject_entries = ["spam.example"]
    site_settings_update(site_id=site.pk, acting_user=None, values=values)
    edited = form_data(approve_entries="partner.example") | _seen(page) | _version(page)
    asked = client.post(url(site), edited | {"pending_action": "decide"})
    assert "These settings decide 1 pending request now" in asked.content.decode()
    assert _version(asked.content.decode()) == _version(page)
    confirmed = client.post(
        url(site), edited | _seen(asked.content.decode()) | {"pending_action": "decide"}
    )
    assert confirmed.status_code == 200 and "Nothing is saved" in confirmed.content.decode()
    assert DomainPattern.objects.filter(site=site, pattern="spam.example").exists()


def test_deciding_by_figures_not_shown_asks_first_and_saves_nothing(
    admin_client, site, run_commits
):
    for email in ["a@partner.example", "b@partner.example", "c@spam.example"]:
        factories.SignupRequestFactory(site=site, email=email)
    page = admin_client.get(url(site)).content.decode()
    assert _seen(page) == {"seen_impact": ""}  # the saved rules decide none of them
    # Rules edited on the page, "decide" chosen: the page showed what the saved rules do.
    edited = form_data(approve_entries="partner.example", reject_entries="spam.example")
    with run_commits():
        asked = admin_client.post(url(site), edited | _seen(page) | {"pending_action": "decide"})
    assert asked.status_code == 200
    html = asked.content.decode()
    assert "These settings decide 3 pending requests now: 2 approved, 1 rejected." in html
    assert "nothing is saved yet" in html
    assert 'name="pending_action" value="keep">Save, keep them pending</button>' in html
    assert 'name="pending_action" value="decide">Save and decide them</button>' in html
    assert "partner.example" in html  # the edits are kept
    assert not DomainPattern.objects.filter(site=site).exists()
    site.refresh_from_db()
    assert site.rules_apply_requested_at is None
    assert set(SignupRequest.objects.values_list("status", flat=True)) == {"pending"}
    # Confirmed with the figures now shown: saved and decided.
    with run_commits():
        saved = admin_client.post(url(site), edited | _seen(html) | {"pending_action": "decide"})
    assert saved.status_code == 302
    assert dict(SignupRequest.objects.values_list("email", "status")) == {
        "a@partner.example": "approved",
        "b@partner.example": "approved",
        "c@spam.example": "rejected",
    }


def test_the_confirmation_can_save_and_keep_the_requests_pending(admin_client, site, run_commits):
    factories.SignupRequestFactory(site=site, email="a@partner.example")
    page = admin_client.get(url(site)).content.decode()
    edited = form_data(approve_entries="partner.example")
    asked = admin_client.post(url(site), edited | _seen(page) | {"pending_action": "decide"})
    assert "These settings decide 1 pending request now: 1 approved, 0 rejected." in (
        asked.content.decode()
    )
    with run_commits():
        kept = admin_client.post(
            url(site), edited | _seen(asked.content.decode()) | {"pending_action": "keep"}
        )
    assert kept.status_code == 302
    assert DomainPattern.objects.filter(site=site, pattern="partner.example").exists()
    assert SignupRequest.objects.get().status == "pending"


def test_requests_that_came_in_since_the_page_was_shown_are_asked_about(
    admin_client, site, run_commits
):
    data = form_data(approve_entries="partner.example")
    admin_client.post(url(site), data)
    factories.SignupRequestFactory(site=site, email="a@partner.example")
    page = admin_client.get(url(site)).content.decode()
    assert "The saved rules would approve 1 and reject 0 of them." in page
    factories.SignupRequestFactory(site=site, email="b@partner.example")
    asked = admin_client.post(url(site), data | _seen(page) | {"pending_action": "decide"})
    assert "These settings decide 2 pending requests now: 2 approved, 0 rejected." in (
        asked.content.decode()
    )
    assert set(SignupRequest.objects.values_list("status", flat=True)) == {"pending"}
    # The figures shown are the figures applied: no second question.
    with run_commits():
        kept = admin_client.post(url(site), data | _seen(page) | {"pending_action": "keep"})
        assert kept.status_code == 302  # keeping them waiting is never held back
        done = admin_client.post(
            url(site), data | _seen(asked.content.decode()) | {"pending_action": "decide"}
        )
    assert done.status_code == 302
    assert set(SignupRequest.objects.values_list("status", flat=True)) == {"approved"}


def test_equal_figures_for_other_requests_are_asked_about(admin_client, site, run_commits):
    admin_client.post(
        url(site), form_data(approve_entries="old.example", reject_entries="new.example")
    )
    factories.SignupRequestFactory(site=site, email="a@old.example")
    factories.SignupRequestFactory(site=site, email="b@new.example")
    page = admin_client.get(url(site)).content.decode()
    assert "The saved rules would approve 1 and reject 1 of them." in page
    # The lists swapped: the same figures, but the other request approved and the other rejected.
    swapped = form_data(approve_entries="new.example", reject_entries="old.example")
    with run_commits():
        asked = admin_client.post(url(site), swapped | _seen(page) | {"pending_action": "decide"})
    assert asked.status_code == 200
    html = asked.content.decode()
    assert "These settings decide 2 pending requests now: 1 approved, 1 rejected." in html
    assert set(SignupRequest.objects.values_list("status", flat=True)) == {"pending"}
    with run_commits():
        done = admin_client.post(url(site), swapped | _seen(html) | {"pending_action": "decide"})
    assert done.status_code == 302
    assert dict(SignupRequest.objects.values_list("email", "status")) == {
        "a@old.example": "rejected",
        "b@new.example": "approved",
    }


def test_approvals_refused_on_an_sso_site_are_not_counted(admin_client, site, run_commits):
    admin_client.post(
        url(site), form_data(approve_entries="partner.example", reject_entries="spam.example")
    )
    for email in ["a@partner.example", "b@spam.example"]:
        factories.SignupRequestFactory(site=site, email=email)
    site.sso_enabled, site.signup_enabled = True, False
    site.save()
    page = admin_client.get(url(site)).content.decode()
    assert "The saved rules would approve 0 and reject 1 of them." in page
    data = form_data(
        signup_enabled=None, approve_entries="partner.example", reject_entries="spam.example"
    )
    with run_commits():
        saved = admin_client.post(url(site), data | _seen(page) | {"pending_action": "decide"})
    assert saved.status_code == 302  # what was shown is what happens: no question
    assert dict(SignupRequest.objects.values_list("email", "status")) == {
        "a@partner.example": "pending",
        "b@spam.example": "rejected",
    }


def test_rules_that_decide_nothing_are_saved_without_asking(admin_client, site, run_commits):
    admin_client.post(url(site), form_data(approve_entries="old.example"))
    factories.SignupRequestFactory(site=site, email="a@old.example")
    page = admin_client.get(url(site)).content.decode()
    assert "The saved rules would approve 1 and reject 0 of them." in page
    with run_commits():
        saved = admin_client.post(
            url(site), form_data() | _seen(page) | {"pending_action": "decide"}
        )
    assert saved.status_code == 302
    assert not DomainPattern.objects.filter(site=site).exists()
    assert SignupRequest.objects.get().status == "pending"


def test_the_confirmation_is_in_french_for_a_french_administrator(admin_client, site):
    factories.SignupRequestFactory(site=site, email="a@partner.example")
    page = admin_client.get(url(site)).content.decode()
    data = form_data(approve_entries="partner.example") | _seen(page)
    asked = admin_client.post(
        url(site), data | {"pending_action": "decide"}, HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert "Ces paramètres statuent dès maintenant sur 1 demande en attente" in asked
    assert "Enregistrer et statuer sur ces demandes" in asked


def test_without_pending_requests_there_is_nothing_to_choose(admin_client, site):
    html = admin_client.get(url(site)).content.decode()
    assert 'name="pending_action"' not in html
    assert html.count(">Save</button>") == 1


def test_deciding_pending_requests_survives_a_broker_outage(admin_client, site, run_commits):
    """The wish is stored with the settings: a run lost with the broker is published again by
    the sweep, which then decides the requests, and the audit trail says who asked."""
    factories.SignupRequestFactory(site=site, email="a@partner.example")
    data = form_data(approve_entries="partner.example", pending_action="decide")
    with (
        mock.patch.object(
            apply_rules_to_pending, "apply_async", side_effect=OperationalError("down")
        ),
        run_commits(),
    ):
        assert admin_client.post(url(site), data).status_code == 302
    assert SignupRequest.objects.get().status == "pending"
    site.refresh_from_db()
    assert site.rules_apply_requested_at is not None
    audit = admin_client.get("/hub/alerts/audit/").content.decode()
    assert "Asked for the pending requests to be decided by these rules" in audit
    assert rules_sweep() == 0  # not stale yet: a run may still be on its way
    Site.objects.filter(pk=site.pk).update(
        rules_apply_requested_at=timezone.now() - timedelta(hours=1)
    )
    with mock.patch.object(apply_rules_to_pending, "apply_async") as published:
        assert rules_sweep() == 1
        assert rules_sweep() == 0  # published again once a period, not at every sweep
    assert published.call_count == 1
    with run_commits():
        apply_rules_to_pending(site.pk)
    assert SignupRequest.objects.get().status == "approved"
    site.refresh_from_db()
    assert site.rules_apply_requested_at is None
    assert rules_sweep() == 0


def test_new_rules_kept_withdraw_a_wish_not_carried_out(admin_client, site, run_commits, settings):
    factories.SignupRequestFactory(site=site, email="a@partner.example")
    decide = form_data(approve_entries="partner.example", pending_action="decide")
    with (
        mock.patch.object(
            apply_rules_to_pending, "apply_async", side_effect=OperationalError("down")
        ),
        run_commits(),
    ):
        admin_client.post(url(site), decide)
    keep = form_data(reject_entries="partner.example", pending_action="keep")
    with run_commits():
        assert admin_client.post(url(site), keep).status_code == 302
    site.refresh_from_db()
    assert site.rules_apply_requested_at is None
    settings.RULES_SWEEP_AFTER_SECONDS = 0
    assert rules_sweep() == 0
    assert SignupRequest.objects.get().status == "pending"


def test_keeping_pending_requests_saves_without_deciding(admin_client, site, run_commits):
    factories.SignupRequestFactory(site=site, email="a@partner.example")
    with run_commits():
        admin_client.post(
            url(site), form_data(approve_entries="partner.example", pending_action="keep")
        )
    assert DomainPattern.objects.filter(pattern="partner.example").exists()
    assert SignupRequest.objects.get().status == "pending"


def test_audit_trail_filters_by_site(admin_client, site, other_site):
    admin_client.post(url(site), form_data(approve_entries="one.example"))
    admin_client.post(url(other_site), form_data(approve_entries="two.example"))
    everything = admin_client.get("/hub/alerts/audit/").content.decode()
    assert "one.example" in everything and "two.example" in everything
    only = admin_client.get("/hub/alerts/audit/", {"site": other_site.slug}).content.decode()
    assert "two.example" in only and "one.example" not in only


def test_a_list_of_10000_ordinary_domains_saves_and_more_is_refused(admin_client, site):
    """SPEC 4 promises the same matching cost with 10,000 patterns: a list that long saves,
    with domains of an ordinary length; a longer list is refused with the limit named."""
    # 100 characters each, one a line as a browser sends them (CRLF).
    entries = [
        f"dept{i:05d}-{'a' * 52}.example-corporation-international.com" for i in range(10_001)
    ]
    assert {len(entry) for entry in entries} == {100}
    too_many = admin_client.post(url(site), form_data(approve_entries="\r\n".join(entries)))
    assert too_many.status_code == 200
    (message,) = too_many.context["form"].errors["approve_entries"]
    assert message == "At most 10,000 domains a list (this one has 10,001)."
    saved = admin_client.post(url(site), form_data(approve_entries="\r\n".join(entries[:10_000])))
    assert saved.status_code == 302
    assert DomainPattern.objects.filter(site=site).count() == 10_000


def test_test_an_address_says_when_sign_up_is_off(admin_client, site):
    Site.objects.filter(pk=site.pk).update(signup_enabled=False)
    html = admin_client.get(url(site), {"address": "bob@elsewhere.example"}).content.decode()
    assert "Waits for review" in html
    assert "Sign-up is off on this site: this is what would happen once it is on." in html


def test_long_lists_of_international_domains_reach_the_form(admin_client, site):
    """10,000 domains a list, percent-encoded as a browser sends them (nine bytes a character):
    over Django's 2.5 MB body limit, within the form's own. Nobody else gets past that limit."""
    from urllib.parse import urlencode

    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    approve = "\n".join(f"例え例え例え例え例え例え{i}.テスト" for i in range(10_000))
    reject = "\n".join(f"例え例え例え例え例え例え{i}.例え" for i in range(10_000))
    body = urlencode(form_data(approve_entries=approve, reject_entries=reject), doseq=True)
    assert len(body) > 2.5 * 1024 * 1024
    form = "application/x-www-form-urlencoded"
    response = admin_client.post(url(site), body, content_type=form)
    assert response.status_code == 302
    assert site.patterns.count() == 20_000
    # Not signed in: refused, with the body left unread.
    assert client.post(url(site), body, content_type=form).status_code == 403
    signup = client.post(f"/sites/{site.slug}/signup/", body, content_type=form)
    assert signup.status_code == 400


def test_a_list_of_many_bad_entries_names_the_first_and_counts_the_rest(admin_client, site):
    bad = "\n".join(f"d{i}.com:1" for i in range(5_000))
    both = "\n".join(f"d{i}.example" for i in range(30))
    response = admin_client.post(
        url(site), form_data(approve_entries=bad + "\n" + both, reject_entries=both)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert len(errors["approve_entries"]) == 21
    assert "“d0.com:1” is not a valid domain" in errors["approve_entries"][0]
    assert errors["approve_entries"][-1] == "and 4,980 more entries like these"
    assert errors["reject_entries"][-1] == "and 10 more entries like these"
    assert not site.patterns.exists()
