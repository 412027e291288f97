"""factory-boy factories for the models tests need."""

import factory

from orgs.models import Administrator, HostLicense, LicenseTemplate, Organization, Person, User
from signup.models import SignupRequest
from sites.models import Site

PASSWORD = "correct-horse-battery-staple"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    slug = factory.Sequence(lambda n: f"site-{n}")
    kind = Site.Kind.COMMERCIAL
    signup_enabled = True
    require_confirmation = False


class AdministratorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Administrator

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Administrator.Role.FULL


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.org")
    email_normalized = factory.LazyAttribute(lambda o: o.email.lower())
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    source = Person.Source.MANUAL


class HostLicenseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HostLicense

    person = factory.SubFactory(PersonFactory)
    site = factory.SubFactory(SiteFactory)
    source = HostLicense.Source.MANUAL


class LicenseTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LicenseTemplate

    organization = factory.SubFactory(OrganizationFactory)


class SignupRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SignupRequest

    site = factory.SubFactory(SiteFactory)
    organization = factory.LazyAttribute(lambda o: o.site.organization)
    email = factory.Sequence(lambda n: f"requester{n}@example.net")
    email_normalized = factory.LazyAttribute(lambda o: o.email.lower())
    first_name = "Robin"
    last_name = factory.Sequence(lambda n: f"Requester{n}")
    required_fields = factory.LazyFunction(lambda: ["first_name", "last_name"])
    status = SignupRequest.Status.PENDING
    decision_basis = SignupRequest.Basis.MODE
