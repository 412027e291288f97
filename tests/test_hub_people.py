"""People (SPEC section 7): added by hand with the automatic license template; people from
self-sign-up get only their site's host license."""

import pytest

from alerts.models import AuditEvent
from orgs.models import HostLicense, Person
from tests import factories


@pytest.fixture
def template_sites(org, site, other_site):
    template = factories.LicenseTemplateFactory(organization=org)
    template.sites.set([site, other_site])
    return [site, other_site]


def test_template_applies_to_people_added_by_hand_only(
    client, full_admin, site, other_site, template_sites, run_commits
):
    client.force_login(full_admin)
    response = client.post(
        "/hub/people/add/", {"email": "hand@example.net", "first_name": "Hand", "last_name": "Made"}
    )
    assert response.status_code == 302
    req = factories.SignupRequestFactory(site=site, email="self@example.net")
    with run_commits():
        client.post(f"/hub/alerts/requests/{req.pk}/approve/")

    by_hand = Person.objects.get(email_normalized="hand@example.net")
    self_signed = Person.objects.get(email_normalized="self@example.net")
    assert by_hand.organization == self_signed.organization
    assert {lic.site for lic in by_hand.licenses.all()} == {site, other_site}
    assert {lic.source for lic in by_hand.licenses.all()} == {HostLicense.Source.TEMPLATE}
    assert [lic.site for lic in self_signed.licenses.all()] == [site]
    assert (by_hand.source, self_signed.source) == ("manual", "self_signup")
    assert by_hand.created_by == full_admin and self_signed.created_by == full_admin
    assert AuditEvent.objects.filter(action="person_created").count() == 1

    page = client.get("/hub/people/").content.decode()
    assert "Added by an administrator" in page and "Self-sign-up" in page
    assert page.count("Ana Admin") >= 3  # the topbar and both rows


def test_a_person_added_with_licenses_is_told_how_to_sign_in(
    client, full_admin, site, other_site, template_sites, outbox, run_commits
):
    """One email, for the first of their sites: an activation link (they have no login yet),
    in the organization's language; the password chosen signs them in."""
    import re

    site.organization.language = "fr"
    site.organization.save()
    client.force_login(full_admin)
    with run_commits():
        added = client.post(
            "/hub/people/add/",
            {"email": "hand@example.net", "first_name": "Léa", "last_name": "M"},
            follow=True,
        )
    assert "an email tells them how to sign in" in added.content.decode()
    (message,) = [m for m in outbox if m.to == ["hand@example.net"]]
    first = min(template_sites, key=lambda s: s.name)
    assert message.subject == f"Votre compte organisateur est prêt : {first.name}"
    assert "Ana Admin vous a ajouté" in message.body
    link = re.search(r"(http://\S+/activate/\S+/)", message.body).group(1)
    client.logout()
    path = link.split("//", 1)[1].split("/", 1)[1]
    password = {"password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"}
    assert client.post(f"/{path}", password).status_code == 302
    assert Person.objects.get(email_normalized="hand@example.net").user is not None


def test_the_email_is_for_a_site_that_takes_its_own_sign_ins(
    client, full_admin, org, site, outbox, run_commits
):
    """Government and SSO sites sign nobody in with a password: the activation link is for the
    first site that does, and with none there is no email."""
    from sites.models import Site

    gov = factories.SiteFactory(
        organization=org,
        name="Aardvark",
        slug="aardvark",
        kind=Site.Kind.GOVERNMENT,
        signup_enabled=False,
    )
    sso = factories.SiteFactory(
        organization=org, name="Abacus", slug="abacus", sso_enabled=True, signup_enabled=False
    )
    template = factories.LicenseTemplateFactory(organization=org)
    template.sites.set([gov, sso, site])
    client.force_login(full_admin)
    with run_commits():
        client.post(
            "/hub/people/add/", {"email": "g@example.net", "first_name": "G", "last_name": "V"}
        )
    (message,) = [m for m in outbox if m.to == ["g@example.net"]]
    assert message.subject.endswith(site.name) and f"/sites/{site.slug}/activate/" in message.body
    template.sites.set([gov, sso])
    with run_commits():
        added = client.post(
            "/hub/people/add/",
            {"email": "h@example.net", "first_name": "H", "last_name": "V"},
            follow=True,
        )
    assert not [m for m in outbox if m.to == ["h@example.net"]]
    assert "H V was added." in added.content.decode()


def test_a_person_added_without_a_license_gets_no_email(client, full_admin, outbox, run_commits):
    client.force_login(full_admin)
    with run_commits():
        client.post(
            "/hub/people/add/", {"email": "bare@example.net", "first_name": "B", "last_name": "A"}
        )
    assert Person.objects.filter(email_normalized="bare@example.net").exists()
    assert not [m for m in outbox if m.to == ["bare@example.net"]]


def test_add_person_refuses_a_known_address(client, full_admin, other_org):
    factories.PersonFactory(organization=other_org, email="gus@globex.example")
    client.force_login(full_admin)
    response = client.post(
        "/hub/people/add/", {"email": "GUS@globex.example", "first_name": "G", "last_name": "G"}
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert Person.objects.count() == 1


@pytest.mark.parametrize("email", ["a@xn--zz.com", "a@b.com\u3002\u3002"])
def test_add_person_refuses_an_address_it_cannot_read(client, full_admin, email):
    client.force_login(full_admin)
    response = client.post(
        "/hub/people/add/", {"email": email, "first_name": "A", "last_name": "A"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["Enter a valid email address."]
    assert not Person.objects.exists()


def test_people_search_and_tenant(client, full_admin, org, other_org):
    factories.PersonFactory(organization=org, email="nora@example.net", first_name="Nora")
    factories.PersonFactory(organization=other_org, email="gus@globex.example")
    client.force_login(full_admin)
    page = client.get("/hub/people/").content
    assert b"nora@example.net" in page and b"gus@globex.example" not in page
    assert b"nora@" not in client.get("/hub/people/", {"q": "zzz"}).content


def test_people_search_finds_a_name_as_shown_and_keeps_to_its_pages(client, full_admin, org):
    """ "Nora Smith", as the row shows it, finds her; the next page is still the search's."""
    import re

    for number in range(60):  # interleaved: a next page without the search shows the others
        factories.PersonFactory(
            organization=org, email=f"n{number}@example.net", first_name="Nora", last_name="Smith"
        )
        factories.PersonFactory(organization=org, email=f"z{number}@example.net", first_name="Zed")
    client.force_login(full_admin)
    first = client.get("/hub/people/", {"q": "Nora Smith"}).content.decode()
    rows = re.compile(r">n\d+@example\.net<")
    assert len(rows.findall(first)) == 50 and "z1@" not in first
    next_link = re.search(r'rel="next" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(f"/hub/people/?{next_link}").content.decode()
    assert len(rows.findall(second)) == 10 and "z1@" not in second


def test_site_admin_sees_people_of_their_sites_only(client, site, other_site, site_admin):
    mine = factories.PersonFactory(organization=site.organization, email="mine@example.net")
    factories.HostLicenseFactory(person=mine, site=other_site)
    theirs = factories.PersonFactory(organization=site.organization, email="theirs@example.net")
    factories.HostLicenseFactory(person=theirs, site=site)
    client.force_login(site_admin)
    page = client.get("/hub/people/").content
    assert b"mine@example.net" in page and b"theirs@example.net" not in page


def test_site_admin_sees_licenses_on_their_sites_only(client, site, other_site, site_admin):
    both = factories.PersonFactory(organization=site.organization, email="both@example.net")
    factories.HostLicenseFactory(person=both, site=other_site)
    factories.HostLicenseFactory(person=both, site=site)
    client.force_login(site_admin)
    (shown,) = client.get("/hub/people/").context["page"].items
    assert [license.site for license in shown.licenses.all()] == [other_site]
    client.force_login(factories.AdministratorFactory(organization=site.organization).user)
    (shown,) = client.get("/hub/people/").context["page"].items
    assert {license.site for license in shown.licenses.all()} == {site, other_site}
