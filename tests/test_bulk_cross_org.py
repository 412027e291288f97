"""Bulk approvals where one address concerns two organizations (security review findings).

An operator's batch from /django-admin/ can span organizations, and another organization can
take an address while a batch is being approved: either way a person must stay in one
organization and get licenses on its sites only, and the batch must report, not fail.
"""

import pytest

from alerts import services
from orgs.models import HostLicense, Person
from signup.models import SignupRequest
from tests import factories


@pytest.fixture
def operator_client(client, db):
    operator = factories.UserFactory(email="ops@example.org", is_staff=True, is_superuser=True)
    client.force_login(operator)
    return client


@pytest.fixture
def globex_takes_raced_address(monkeypatch, other_org):
    """Globex commits a person for raced@example.net between the approval's lookup of people
    and its INSERT (the lookup of logins runs in between)."""
    real = services._users_by_email

    def globex_commits_first(emails):
        if (
            "raced@example.net" in emails
            and not Person.objects.filter(email_normalized="raced@example.net").exists()
        ):
            factories.PersonFactory(organization=other_org, email="raced@example.net")
        return real(emails)

    monkeypatch.setattr(services, "_users_by_email", globex_commits_first)


def test_operator_batch_with_one_address_in_two_orgs_approves_one_and_reports_the_other(
    operator_client, site, other_org_site, run_commits
):
    acme = factories.SignupRequestFactory(site=site, email="dual@example.net")
    globex = factories.SignupRequestFactory(site=other_org_site, email="dual@example.net")
    with run_commits():
        response = operator_client.post(
            "/django-admin/signup/signuprequest/",
            {"action": "approve", "_selected_action": [acme.pk, globex.pk]},
            follow=True,
        )
    assert response.status_code == 200
    person = Person.objects.get(email_normalized="dual@example.net")
    assert person.organization_id == site.organization_id  # the batch's first request's
    assert list(HostLicense.objects.values_list("person_id", "site_id")) == [(person.pk, site.pk)]
    acme.refresh_from_db()
    globex.refresh_from_db()
    assert (acme.status, acme.person_id) == (SignupRequest.Status.APPROVED, person.pk)
    assert (globex.status, globex.person_id) == (SignupRequest.Status.PENDING, None)
    messages = [str(m) for m in response.context["messages"]]
    assert f"#{globex.pk}: {services.other_organization_message()}" in messages


def test_bulk_license_grant_refuses_a_site_of_another_organization(site, other_org, full_admin):
    req = factories.SignupRequestFactory(site=site, email="theirs@example.net")
    theirs = factories.PersonFactory(organization=other_org, email="theirs@example.net")
    with pytest.raises(ValueError):
        services._grant_licenses([req], {req.email_normalized: theirs}, full_admin)
    assert not HostLicense.objects.exists()


def test_bulk_approve_losing_the_race_to_another_org_reports_and_decides_the_rest(
    client, site, full_admin, other_org, globex_takes_raced_address, run_commits
):
    fine = factories.SignupRequestFactory(site=site, email="fine@example.net")
    raced = factories.SignupRequestFactory(site=site, email="raced@example.net")
    client.force_login(full_admin)
    with run_commits():
        response = client.post(
            "/hub/alerts/requests/bulk/", {"action": "approve", "ids": [fine.pk, raced.pk]}
        )
    assert response.status_code == 200
    outcomes = {o.request_id: (o.ok, o.message) for o in response.context["outcomes"]}
    assert outcomes[raced.pk] == (False, services.other_organization_message())
    assert outcomes[fine.pk][0] is True
    fine.refresh_from_db()
    raced.refresh_from_db()
    assert fine.status == SignupRequest.Status.APPROVED
    assert fine.person.activation_nonce  # created after the lost race, still told to activate
    assert raced.status == SignupRequest.Status.PENDING
    theirs = Person.objects.get(email_normalized="raced@example.net")
    assert theirs.organization_id == other_org.pk
    assert not HostLicense.objects.filter(person=theirs).exists()


def test_single_approve_losing_the_race_to_another_org_answers_409(
    client, site, full_admin, globex_takes_raced_address
):
    raced = factories.SignupRequestFactory(site=site, email="raced@example.net")
    client.force_login(full_admin)
    response = client.post(f"/hub/alerts/requests/{raced.pk}/approve/")
    assert response.status_code == 409
    assert b"another organization" in response.content
    raced.refresh_from_db()
    assert raced.status == SignupRequest.Status.PENDING
