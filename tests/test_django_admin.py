"""Operators at /django-admin/: decisions go through the hub's services."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from alerts import services
from alerts.models import AuditEvent
from mail.models import OutboxEmail
from orgs.models import Person, User
from signup.models import SignupRequest
from sites.models import Site
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


def test_staff_who_are_not_superusers_are_kept_out(client, site):
    """Operators are superusers: model permissions alone open nothing, least of all the
    actions that decide requests."""
    staff = factories.UserFactory(email="staff@example.org", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    pending = factories.SignupRequestFactory(site=site)
    client.force_login(staff)
    response = client.post(
        "/django-admin/signup/signuprequest/",
        {"action": "approve", "_selected_action": [pending.pk]},
    )
    assert response.status_code == 302 and "/django-admin/login/" in response["Location"]
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_site_change_keeps_the_organization_and_the_signup_rule(operator_client, site, other_org):
    client, _ = operator_client
    Site.objects.filter(pk=site.pk).update(signup_enabled=True)
    url = f"/django-admin/sites/site/{site.pk}/change/"
    data = {
        "name": site.name,
        "slug": site.slug,
        "organization": other_org.pk,
        "kind": "government",
        "sso_enabled": "",
        "created_at_0": site.created_at.strftime("%Y-%m-%d"),
        "created_at_1": site.created_at.strftime("%H:%M:%S"),
        "patterns-TOTAL_FORMS": "0",
        "patterns-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "turn it off in the hub" in response.content.decode()
    response = client.post(url, {**data, "kind": "commercial"})
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.kind == "commercial" and site.organization_id != other_org.pk


def _site_form(site, **changes) -> dict:
    return {
        "name": site.name,
        "slug": site.slug,
        "kind": site.kind,
        "sso_enabled": "on" if site.sso_enabled else "",
        "created_at_0": site.created_at.strftime("%Y-%m-%d"),
        "created_at_1": site.created_at.strftime("%H:%M:%S"),
        "patterns-TOTAL_FORMS": "0",
        "patterns-INITIAL_FORMS": "0",
        **changes,
    }


def test_a_sites_address_stays_while_links_may_carry_it(operator_client, site, other_site):
    """Confirmation, activation and sign-in links name the site's slug: it can't change while
    sign-up is on or the site has requests or hosts (the links would be a 404)."""
    client, _ = operator_client
    url = f"/django-admin/sites/site/{site.pk}/change/"
    factories.SignupRequestFactory(site=site, status="unconfirmed")
    refused = client.post(url, _site_form(site, slug="acme-new"))
    assert refused.status_code == 200 and "links already emailed" in refused.content.decode()
    site.refresh_from_db()
    assert site.slug == "acme"
    # A site nobody was ever emailed about can be renamed.
    Site.objects.filter(pk=other_site.pk).update(signup_enabled=False)
    url = f"/django-admin/sites/site/{other_site.pk}/change/"
    assert client.post(url, _site_form(other_site, slug="labs")).status_code == 302
    other_site.refresh_from_db()
    assert other_site.slug == "labs"
    factories.HostLicenseFactory(
        person=factories.PersonFactory(organization=other_site.organization), site=other_site
    )
    assert client.post(url, _site_form(other_site, slug="labs-2")).status_code == 200


def test_a_site_with_hosts_is_not_deleted_with_their_licenses(operator_client, site):
    """Deleting the site would take its hosts' licenses with no audit record: refused, one by
    one and in bulk, until the licenses are taken back (which is recorded)."""
    from orgs.models import HostLicense

    client, _ = operator_client
    factories.HostLicenseFactory(
        person=factories.PersonFactory(organization=site.organization), site=site
    )
    page = client.get(f"/django-admin/sites/site/{site.pk}/delete/").content.decode()
    assert "has host licenses: take them back" in page
    client.post(f"/django-admin/sites/site/{site.pk}/delete/", {"post": "yes"})
    client.post(
        "/django-admin/sites/site/",
        {"action": "delete_selected", "_selected_action": [site.pk], "post": "yes"},
    )
    assert Site.objects.filter(pk=site.pk).exists() and HostLicense.objects.exists()


def test_outbox_rows_are_not_deleted_by_operators(operator_client, site):
    """Each row is a request's email log, and a queued one would silently never go."""
    client, _ = operator_client
    row = OutboxEmail.objects.create(
        idempotency_key="k",
        kind="request_received",
        to_email="a@example.net",
        organization=site.organization,
        status="queued",
    )
    assert client.get(f"/django-admin/mail/outboxemail/{row.pk}/delete/").status_code == 403
    client.post(
        "/django-admin/mail/outboxemail/",
        {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
    )
    assert OutboxEmail.objects.filter(pk=row.pk).exists()


def test_an_administrators_login_is_never_another_organizations_person(
    operator_client, site, other_org, other_site
):
    """SPEC section 2: an address belongs to one organization. An administrator made, or a
    login changed, in the Django admin is held to it, and its sites are its organization's."""
    from orgs.models import Administrator

    client, _ = operator_client
    factories.PersonFactory(organization=other_org, email="pat@globex.example")
    pat = factories.UserFactory(email="pat@globex.example")
    data = {"user": pat.pk, "organization": site.organization_id, "role": "full", "language": "en"}
    refused = client.post("/django-admin/orgs/administrator/add/", data)
    assert refused.status_code == 200
    assert "belongs to a person of another organization" in refused.content.decode()
    globex_site = factories.SiteFactory(organization=other_org, slug="globex-site")
    ann = factories.UserFactory(email="ann@acme.example")
    crossed = client.post(
        "/django-admin/orgs/administrator/add/",
        {**data, "user": ann.pk, "role": "site", "sites": [other_site.pk, globex_site.pk]},
    )
    assert (
        crossed.status_code == 200 and "belong to another organization" in crossed.content.decode()
    )
    assert not Administrator.objects.exists()
    ok = client.post("/django-admin/orgs/administrator/add/", {**data, "user": ann.pk})
    assert ok.status_code == 302
    renamed = client.post(
        f"/django-admin/orgs/user/{ann.pk}/change/",
        {
            "email": "pat@globex.example",
            "full_name": "Ann",
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert renamed.status_code == 200
    ann.refresh_from_db()
    assert ann.email == "ann@acme.example"


def test_an_administrator_who_decided_cannot_be_deleted_but_can_be_deactivated(
    operator_client, site, full_admin
):
    """Who decided a request is kept: deleting that account is refused with the admin's own
    page (not a 500), and deactivating it keeps the name on the request."""
    client, _operator = operator_client
    req = factories.SignupRequestFactory(site=site)
    services.request_reject(request_id=req.pk, acting_user=full_admin)
    page = client.post(f"/django-admin/orgs/user/{full_admin.pk}/delete/", {"post": "yes"})
    assert page.status_code == 200 and b"Cannot delete user" in page.content
    assert b"host account request" in page.content
    assert type(full_admin).objects.filter(pk=full_admin.pk).exists()
    full_admin.is_active = False
    full_admin.save()
    req.refresh_from_db()
    assert req.decider_label == full_admin.display_name


def test_a_template_stays_within_its_organization(operator_client, site, other_org_site):
    """A template naming another organization's site is refused (it would otherwise fail every
    Add person of the organization)."""
    from orgs.admin import LicenseTemplateForm

    template = LicenseTemplateForm(
        data={"organization": site.organization_id, "enabled": "on", "sites": [other_org_site.pk]}
    )
    assert not template.is_valid() and other_org_site.name in str(template.errors)
    ok = LicenseTemplateForm(
        data={"organization": site.organization_id, "enabled": "on", "sites": [site.pk]}
    )
    assert ok.is_valid()
    client, _ = operator_client
    assert client.get("/django-admin/orgs/licensetemplate/add/").status_code == 200


def test_a_persons_organization_login_and_licenses_change_only_through_the_services(
    operator_client, site, other_org, other_org_site
):
    """Moving a person or giving them a license here would write nothing in either
    organization's audit trail: the page shows them, and a forged form changes nothing."""
    from orgs.models import HostLicense

    client, _ = operator_client
    person = factories.PersonFactory(organization=site.organization, email="stay@example.org")
    factories.HostLicenseFactory(person=person, site=site)
    path = f"/django-admin/orgs/person/{person.pk}/change/"
    page = client.get(path).content.decode()
    for name in ["organization", "user", "activation_nonce", "licenses-0-site"]:
        assert f'name="{name}"' not in page, name
    assert site.name in page  # the license is shown
    response = client.post(
        path,
        {
            "organization": other_org.pk,
            "first_name": "Pat",
            "last_name": "Doe",
            "profile": "{}",
            "language": "en",
            "licenses-TOTAL_FORMS": "1",
            "licenses-INITIAL_FORMS": "0",
            "licenses-MIN_NUM_FORMS": "0",
            "licenses-MAX_NUM_FORMS": "1000",
            "licenses-0-site": other_org_site.pk,
            "licenses-0-source": "manual",
            "licenses-0-person": person.pk,
        },
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.organization_id == site.organization_id and person.first_name == "Pat"
    assert list(HostLicense.objects.filter(person=person).values_list("site", flat=True)) == [
        site.pk
    ]


def test_a_license_taken_back_by_an_operator_is_in_the_audit_trail(
    operator_client, site, full_admin
):
    from orgs.models import HostLicense

    client, operator = operator_client
    person = factories.PersonFactory(organization=site.organization, email="wrong@example.org")
    license = factories.HostLicenseFactory(person=person, site=site)
    response = client.post(
        f"/django-admin/orgs/person/{person.pk}/change/",
        {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "profile": "{}",
            "language": "en",
            "licenses-TOTAL_FORMS": "1",
            "licenses-INITIAL_FORMS": "1",
            "licenses-MIN_NUM_FORMS": "0",
            "licenses-MAX_NUM_FORMS": "1000",
            "licenses-0-id": license.pk,
            "licenses-0-person": person.pk,
            "licenses-0-DELETE": "on",
        },
    )
    assert response.status_code == 302
    assert not HostLicense.objects.filter(pk=license.pk).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.LICENSE_REMOVED)
    assert (event.actor, event.site, event.organization) == (operator, site, site.organization)
    client.force_login(full_admin)
    trail = client.get("/hub/alerts/audit/").content.decode()
    assert f"removed the host license of wrong@example.org on {site.name}" in trail


def test_removing_people_is_recorded_with_their_licenses(
    operator_client, site, other_site, full_admin, site_admin
):
    """An operator removing people (one from its page, several with the action) goes through
    the service: each removal is in the audit trail, once for each site whose license went (its
    site administrators see it there), or once for the organization."""
    from orgs.models import HostLicense

    client, operator = operator_client
    people = [
        factories.PersonFactory(organization=site.organization, email=f"p{n}@example.org")
        for n in range(3)
    ]
    factories.HostLicenseFactory(person=people[0], site=site)
    factories.HostLicenseFactory(person=people[0], site=other_site)
    factories.HostLicenseFactory(person=people[1], site=site)
    one = client.post(f"/django-admin/orgs/person/{people[0].pk}/delete/", {"post": "yes"})
    assert one.status_code == 302
    several = client.post(
        "/django-admin/orgs/person/",
        {
            "action": "delete_selected",
            "_selected_action": [people[1].pk, people[2].pk],
            "post": "yes",
        },
    )
    assert several.status_code == 302
    assert not Person.objects.exists() and not HostLicense.objects.exists()
    events = AuditEvent.objects.filter(action=AuditEvent.Action.PERSON_DELETED).order_by("pk")
    assert [(e.changes["email"], e.site, e.changes["licenses"]) for e in events] == [
        ("p0@example.org", site, [site.slug]),
        ("p0@example.org", other_site, [other_site.slug]),
        ("p1@example.org", site, [site.slug]),
        ("p2@example.org", None, []),
    ]
    assert {(e.organization, e.actor) for e in events} == {(site.organization, operator)}
    client.force_login(full_admin)
    trail = client.get("/hub/alerts/audit/").content.decode()
    assert "removed p2@example.org from the people" in trail
    assert f"Host licenses removed with them: {site.slug}" in trail
    client.force_login(site_admin)  # of other_site only
    theirs = client.get("/hub/alerts/audit/").content.decode()
    assert "removed p0@example.org from the people" in theirs
    assert "p1@example.org" not in theirs and "p2@example.org" not in theirs


def test_people_are_added_and_readdressed_only_through_the_services(operator_client, site):
    """The admin can't add a person (People › Add person does, with the license template) nor
    change an address, whose normalized form the services keep for every match."""
    client, _ = operator_client
    person = factories.PersonFactory(organization=site.organization, email="one@example.org")
    assert client.get("/django-admin/orgs/person/add/").status_code == 403
    page = client.get(f"/django-admin/orgs/person/{person.pk}/change/")
    assert page.status_code == 200 and b'name="email"' not in page.content
    client.post(
        f"/django-admin/orgs/person/{person.pk}/change/",
        {
            "organization": site.organization_id,
            "email": "two@example.org",
            "first_name": "Pat",
            "last_name": "Doe",
            "profile": "{}",
            "language": "en",
            "source": "manual",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
            "licenses-TOTAL_FORMS": "0",
            "licenses-INITIAL_FORMS": "0",
        },
    )
    person.refresh_from_db()
    assert (person.email, person.email_normalized) == ("one@example.org", "one@example.org")
    assert person.first_name == "Pat"


def test_requests_are_not_deleted_by_operators(operator_client, site, full_admin):
    client, _ = operator_client
    req = factories.SignupRequestFactory(site=site)
    services.request_approve(request_id=req.pk, acting_user=full_admin)
    client.post(
        "/django-admin/signup/signuprequest/",
        {"action": "delete_selected", "_selected_action": [req.pk], "post": "yes"},
    )
    assert client.get(f"/django-admin/signup/signuprequest/{req.pk}/delete/").status_code == 403
    assert SignupRequest.objects.filter(pk=req.pk, status="approved").exists()


def test_a_login_typed_by_an_operator_is_stored_as_every_lookup_compares_it(
    operator_client, site, full_admin, other_org, run_commits
):
    """`Boss@Bravo.example` typed on the user pages is stored lower-cased: the person signs in,
    and their address is known as another organization's administrator."""
    client, _ = operator_client
    response = client.post(
        "/django-admin/orgs/user/add/",
        {
            "email": "Boss@Bravo.example",
            "password1": "xk3-Long-pass-9911",
            "password2": "xk3-Long-pass-9911",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email__iexact="boss@bravo.example")
    assert user.email == "boss@bravo.example"
    factories.AdministratorFactory(user=user, organization=other_org, role="full")
    signed_in = Client().post(
        "/hub/login/", {"username": "Boss@Bravo.example", "password": "xk3-Long-pass-9911"}
    )
    assert signed_in.status_code == 302
    req = factories.SignupRequestFactory(site=site, email="boss@bravo.example")
    with run_commits(), pytest.raises(services.NotApprovable):
        services.request_approve(request_id=req.pk, acting_user=full_admin)
    req.refresh_from_db()
    assert req.status == "pending"

    # A change of address is stored the same way, and one differing only in case is refused.
    change = f"/django-admin/orgs/user/{user.pk}/change/"
    form = {"email": "Chief@BRAVO.example", "full_name": "", "is_active": "on"}
    form |= {"date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    assert client.post(change, form).status_code == 302
    user.refresh_from_db()
    assert user.email == "chief@bravo.example"
    twin = client.post(
        "/django-admin/orgs/user/add/",
        {
            "email": "CHIEF@bravo.example",
            "password1": "xk3-Long-pass-9911",
            "password2": "xk3-Long-pass-9911",
            "usable_password": "true",
        },
    )
    assert twin.status_code == 200 and b"already exists" in twin.content
    assert User.objects.filter(email__iexact="chief@bravo.example").count() == 1


def test_logins_stored_as_typed_are_normalized_by_a_migration(db):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("orgs.migrations.0005_normalize_user_logins")
    typed = factories.UserFactory(email="typed@example.org")
    unicode = factories.UserFactory(email="ana@example.net")
    twin = factories.UserFactory(email="ana@xn--bcher-kva.example")
    User.objects.filter(pk=typed.pk).update(email="Typed@Example.ORG")
    User.objects.filter(pk=unicode.pk).update(email="ana@bücher.example")
    migration.normalize_logins(apps, None)
    assert User.objects.get(pk=typed.pk).email == "typed@example.org"
    # Its normalized form is another login's: left for an operator.
    assert User.objects.get(pk=unicode.pk).email == "ana@bücher.example"
    assert User.objects.get(pk=twin.pk).email == "ana@xn--bcher-kva.example"


def test_addresses_stored_with_needless_quotes_are_normalized_by_migrations(site, other_site):
    from importlib import import_module

    from django.apps import apps

    login = factories.UserFactory(email="chief@bravo.example")
    User.objects.filter(pk=login.pk).update(email='"chief"@bravo.example')
    quoted = factories.PersonFactory(organization=site.organization, email="ann@acme.example")
    spaced = factories.PersonFactory(organization=site.organization, email='"a b"@acme.example')
    twin = factories.PersonFactory(organization=site.organization, email="bob@acme.example")
    bob = factories.PersonFactory(organization=site.organization, email="other@acme.example")
    Person.objects.filter(pk=quoted.pk).update(email_normalized='"ann"@acme.example')
    Person.objects.filter(pk=bob.pk).update(email_normalized='"bob"@acme.example')
    requests = {
        name: factories.SignupRequestFactory(site=on, email=f"{name}@example.net")
        for name, on in [("open", site), ("held", other_site), ("done", site)]
    }
    SignupRequest.objects.filter(pk=requests["done"].pk).update(
        status="rejected", decided_at=timezone.now(), decision_basis="mode"
    )
    factories.SignupRequestFactory(site=other_site, email="held.twin@example.net")
    for name, req in requests.items():
        SignupRequest.objects.filter(pk=req.pk).update(email_normalized=f'"{name}"@example.net')
    SignupRequest.objects.filter(email="held.twin@example.net").update(
        email_normalized="held@example.net"
    )
    import_module("orgs.migrations.0006_normalize_quoted_addresses").normalize_quoted(apps, None)
    import_module("signup.migrations.0011_normalize_quoted_addresses").normalize_quoted(apps, None)
    assert User.objects.get(pk=login.pk).email == "chief@bravo.example"
    assert Person.objects.get(pk=quoted.pk).email_normalized == "ann@acme.example"
    assert Person.objects.get(pk=spaced.pk).email_normalized == '"a b"@acme.example'
    # Its new form is another person's: left for an operator.
    assert Person.objects.get(pk=bob.pk).email_normalized == '"bob"@acme.example'
    assert Person.objects.get(pk=twin.pk).email_normalized == "bob@acme.example"
    normalized = {
        name: SignupRequest.objects.get(pk=req.pk).email_normalized
        for name, req in requests.items()
    }
    assert normalized == {
        "open": "open@example.net",
        # Another open request of its site has that address: both wait for an administrator.
        "held": '"held"@example.net',
        "done": "done@example.net",
    }


def test_the_resend_action_skips_what_cannot_be_sent_again(operator_client, site, run_commits):
    """A confirmation whose request was purged can't be sent usefully: the action says so and
    sends the others (it answered 500)."""
    client, _ = operator_client
    common = {"to_email": "x@example.net", "organization": site.organization, "status": "failed"}
    purged = OutboxEmail.objects.create(idempotency_key="p", kind="confirm_email", **common)
    ready = OutboxEmail.objects.create(idempotency_key="r", kind="host_ready", **common)
    with run_commits():
        response = client.post(
            "/django-admin/mail/outboxemail/",
            {"action": "resend", "_selected_action": [purged.pk, ready.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert "can&#x27;t be sent again" in response.content.decode()
    purged.refresh_from_db()
    ready.refresh_from_db()
    assert purged.status == "failed" and ready.status in ("queued", "sent")
