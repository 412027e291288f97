"""Reads for the public pages."""

import functools
from dataclasses import dataclass

from django.db import connection

from orgs.models import HostLicense, Organization, Person
from sites.models import Site

# What the public pages read of a site and of its organization: every other field is deferred
# (loaded on first use, like `.only()` does).
PUBLIC_SITE_FIELDS = (
    "id",
    "organization_id",
    "name",
    "slug",
    "kind",
    "sso_enabled",
    "signup_enabled",
    "required_fields",
)
PUBLIC_ORGANIZATION_FIELDS = ("name",)


@functools.cache
def _public_site_sql() -> str:
    """One SELECT with the join, from the models' own table and column names. Written out once
    because compiling the equivalent `select_related().only()` queryset cost more than the
    query itself on every public request (see `bench/signup_throughput.py`)."""
    quote = connection.ops.quote_name
    site_meta, org_meta = Site._meta, Organization._meta
    organization = site_meta.get_field("organization")
    columns = [f"s.{quote(site_meta.get_field(name).column)}" for name in PUBLIC_SITE_FIELDS]
    columns += [
        f"o.{quote(org_meta.get_field(name).column)} AS {quote('organization_' + name)}"
        for name in PUBLIC_ORGANIZATION_FIELDS
    ]
    # Only model metadata goes into the text; the slug is a query parameter.
    return (
        f"SELECT {', '.join(columns)} FROM {quote(site_meta.db_table)} s "  # noqa: S608
        f"JOIN {quote(org_meta.db_table)} o "
        f"ON o.{quote(org_meta.pk.column)} = s.{quote(organization.column)} "
        f"WHERE s.{quote(site_meta.get_field('slug').column)} = %s"
    )


def public_site(slug: str) -> Site | None:
    """The site of a public page with its organization, or None for an unknown slug."""
    site = next(iter(Site.objects.raw(_public_site_sql(), [slug])), None)
    if site is None:
        return None
    values = [site.organization_id] + [
        getattr(site, f"organization_{name}") for name in PUBLIC_ORGANIZATION_FIELDS
    ]
    organization = Organization.from_db(
        Site.objects.db, [Organization._meta.pk.attname, *PUBLIC_ORGANIZATION_FIELDS], values
    )
    Site._meta.get_field("organization").set_cached_value(site, organization)
    return site


@dataclass(frozen=True)
class HostStatus:
    person: Person | None
    is_host: bool
    name: str


def host_status(*, user, site: Site) -> HostStatus | None:
    """Who is signed in on a site's pages and whether they host on it; None when nobody is."""
    if not user.is_authenticated:
        return None
    person = Person.objects.filter(user=user).first()
    is_host = person is not None and HostLicense.objects.filter(person=person, site=site).exists()
    return HostStatus(person=person, is_host=is_host, name=user.display_name)
