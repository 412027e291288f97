"""Database constraints back the service rules: they hold even if code forgets."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from sites.models import DomainPattern, Site
from tests import factories


def refused(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


@pytest.mark.parametrize(("kind", "sso"), [("government", False), ("commercial", True)])
def test_signup_cannot_be_on_for_government_or_sso_site(db, kind, sso):
    refused(lambda: factories.SiteFactory(kind=kind, sso_enabled=sso, signup_enabled=True))
    site = factories.SiteFactory(kind=kind, sso_enabled=sso, signup_enabled=False)
    refused(lambda: Site.objects.filter(pk=site.pk).update(signup_enabled=True))


def test_pattern_at_most_once_per_site(db):
    site = factories.SiteFactory()
    DomainPattern.objects.create(
        site=site, pattern="a.example", suffix="a.example", action="approve"
    )
    refused(
        lambda: DomainPattern.objects.create(
            site=site, pattern="a.example", suffix="a.example", action="reject"
        )
    )
    other = factories.SiteFactory()
    DomainPattern.objects.create(
        site=other, pattern="a.example", suffix="a.example", action="reject"
    )


def test_one_open_request_per_site_and_address(db):
    first = factories.SignupRequestFactory(email="a@example.net")
    refused(
        lambda: factories.SignupRequestFactory(
            site=first.site, email="a@example.net", status="unconfirmed"
        )
    )
    factories.SignupRequestFactory(email="a@example.net")  # another site: fine
    first.status, first.decided_at = "rejected", timezone.now()
    first.save()
    factories.SignupRequestFactory(site=first.site, email="a@example.net")  # closed: fine


def test_one_license_per_person_and_site(db):
    lic = factories.HostLicenseFactory()
    refused(lambda: factories.HostLicenseFactory(person=lic.person, site=lic.site))


def test_person_email_unique_across_organizations(db):
    factories.PersonFactory(email="x@example.net")
    refused(lambda: factories.PersonFactory(email="x@example.net"))


def test_decided_request_needs_time_and_decider(db):
    refused(lambda: factories.SignupRequestFactory(status="approved"))
    refused(
        lambda: factories.SignupRequestFactory(
            status="approved", decided_at=timezone.now(), decision_basis="administrator"
        )
    )
