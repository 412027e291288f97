"""A new host activates their account from the approval email, then signs in on the site."""

import re

import pytest

from orgs.models import Person
from signup.tokens import activation_token
from sites.services import SettingsValues, site_settings_update
from tests import factories
from tests.helpers import human


@pytest.fixture
def approved(client, site, full_admin, outbox, run_commits):
    """A person approved automatically; returns the activation path from their email."""
    site_settings_update(
        site_id=site.pk,
        acting_user=None,
        values=SettingsValues(
            signup_enabled=True,
            approve_entries=["example.net"],
            required_fields=["first_name", "last_name"],
            require_confirmation=False,
        ),
    )
    with run_commits():
        client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "nora@example.net", "first_name": "Nora", "last_name": "New"}),
        )
    (ready,) = [m for m in outbox if m.to == ["nora@example.net"]]
    return re.search(r"http://testserver(/sites/\S+/activate/\S+/)", ready.body).group(1)


def test_activation_sets_password_and_signs_in(client, site, approved):
    page = client.get(approved)
    assert page.status_code == 200 and b"nora@example.net" in page.content
    response = client.post(
        approved, {"password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"}
    )
    assert response.status_code == 302
    person = Person.objects.get(email_normalized="nora@example.net")
    assert person.user is not None and person.user.check_password("a-long-pass-phrase")
    home = client.get(f"/sites/{site.slug}/")
    assert b"You are a host on this site." in home.content


def test_activation_link_is_single_use(client, approved):
    client.post(approved, {"password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"})
    assert client.get(approved).status_code == 400
    again = client.post(
        approved, {"password1": "another-pass-phrase", "password2": "another-pass-phrase"}
    )
    assert again.status_code == 400
    person = Person.objects.get(email_normalized="nora@example.net")
    assert person.user.check_password("a-long-pass-phrase")


def test_activation_applies_password_validators(client, approved):
    response = client.post(approved, {"password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert "password1" in response.context["form"].errors
    mismatch = client.post(approved, {"password1": "a-long-pass-phrase", "password2": "other"})
    assert "password2" in mismatch.context["form"].errors
    assert Person.objects.get(email_normalized="nora@example.net").user is None


def test_activation_link_tampered_expired_or_for_another_site(
    client, site, other_site, approved, settings
):
    token = approved.rstrip("/").rsplit("/", 1)[1]
    assert client.get(f"/sites/{site.slug}/activate/{token[:-3]}abc/").status_code == 400
    assert client.get(f"/sites/{other_site.slug}/activate/{token}/").status_code == 400
    settings.SIGNUP_ACTIVATION_MAX_AGE = -1
    assert client.get(approved).status_code == 400


def test_an_expired_activation_link_says_how_to_get_a_new_one(
    client, site, approved, outbox, run_commits, settings
):
    """The page doesn't end at Sign in, which someone with no password can't use: it sends them
    to sign up again, which emails a new link (and when sign-up is off, to an administrator)."""
    settings.SIGNUP_ACTIVATION_MAX_AGE = -1
    page = client.get(approved).content.decode()
    assert "sign up again with the same address" in page
    assert f'href="/sites/{site.slug}/signup/"' in page
    settings.SIGNUP_ACTIVATION_MAX_AGE = 7 * 24 * 3600
    outbox.clear()
    with run_commits():
        client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "nora@example.net", "first_name": "Nora", "last_name": "New"}),
        )
    (again,) = outbox
    fresh = re.search(r"http://testserver(/sites/\S+/activate/\S+/)", again.body).group(1)
    assert client.get(fresh).status_code == 200
    site.signup_enabled = False
    site.save(update_fields=["signup_enabled"])
    settings.SIGNUP_ACTIVATION_MAX_AGE = -1
    closed = client.get(fresh).content.decode()
    assert "ask an administrator of your organization" in closed
    assert f'href="/sites/{site.slug}/signup/"' not in closed


def test_forged_token_for_a_person_without_nonce_is_refused(client, site):
    person = factories.PersonFactory(organization=site.organization)
    factories.HostLicenseFactory(person=person, site=site)
    token = activation_token(person_id=person.pk, site_id=site.pk, nonce="")
    assert client.get(f"/sites/{site.slug}/activate/{token}/").status_code == 400


def test_signin_with_email_and_password(client, site, approved):
    client.post(approved, {"password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"})
    client.post(f"/sites/{site.slug}/signout/")
    page = client.get(f"/sites/{site.slug}/signin/")
    assert b'<label for="id_username">Email</label>' in page.content
    bad = client.post(
        f"/sites/{site.slug}/signin/", {"username": "nora@example.net", "password": "wrong"}
    )
    assert bad.status_code == 200 and b"You are a host" not in bad.content
    good = client.post(
        f"/sites/{site.slug}/signin/",
        {"username": "NORA@example.net", "password": "a-long-pass-phrase"},
    )
    assert good.status_code == 302
    assert b"You are a host on this site." in client.get(f"/sites/{site.slug}/").content


def test_address_that_got_a_login_since_the_email_signs_in_instead(client, site, approved):
    factories.UserFactory(email="nora@example.net", password="their-own-pass")
    assert client.get(approved).status_code == 400
    response = client.post(approved, {"password1": "a-long-pass", "password2": "a-long-pass"})
    assert response.status_code == 400
    assert f"/sites/{site.slug}/signin/" in response.content.decode()
    signed_in = client.post(
        f"/sites/{site.slug}/signin/",
        {"username": "nora@example.net", "password": "their-own-pass"},
        follow=True,
    )
    assert b"You are a host on this site." in signed_in.content


def test_person_without_login_whose_address_has_one_is_linked_on_approval(
    client, site, full_admin, outbox, run_commits
):
    """A person added by hand, later given a login elsewhere (made an administrator, say),
    then approved: their email has the sign-in link, not an activation link."""
    person = factories.PersonFactory(organization=site.organization, email="lea@example.net")
    login = factories.UserFactory(email="lea@example.net")
    request = factories.SignupRequestFactory(site=site, email="lea@example.net")
    client.force_login(full_admin)
    with run_commits():
        client.post(f"/hub/alerts/requests/{request.pk}/approve/")
    person.refresh_from_db()
    assert person.user == login and person.activation_nonce == ""
    (ready,) = [m for m in outbox if m.to == ["lea@example.net"]]
    assert f"/sites/{site.slug}/signin/" in ready.body and "/activate/" not in ready.body
