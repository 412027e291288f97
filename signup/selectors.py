"""Reads for the public pages."""

import functools
from dataclasses import dataclass

from django.db import connection
from django.db.models import Field

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
def _public_site_query() -> tuple[str, list[Field], list[Field]]:
    """One SELECT with the join, from the models' own table and column names, and the site's and
    the organization's fields in the order of its columns. Written out once because
    compiling the equivalent `select_related().only()` queryset, or even a raw queryset's
    column mapping, cost more than the query itself on every public request (see
    `bench/signup_throughput.py`)."""
    quote = connection.ops.quote_name
    site_meta, org_meta = Site._meta, Organization._meta
    # The order of `concrete_fields`, which `Model.from_db` expects.
    site_fields = [f for f in site_meta.concrete_fields if f.attname in PUBLIC_SITE_FIELDS]
    org_fields = [f for f in org_meta.concrete_fields if f.attname in PUBLIC_ORGANIZATION_FIELDS]
    columns = [f"s.{quote(field.column)}" for field in site_fields]
    columns += [f"o.{quote(field.column)}" for field in org_fields]
    organization = site_meta.get_field("organization")
    # Only model metadata goes into the text; the slug is a query parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(site_meta.db_table)} s "  # noqa: S608
        f"JOIN {quote(org_meta.db_table)} o "
        f"ON o.{quote(org_meta.pk.column)} = s.{quote(organization.column)} "
        f"WHERE s.{quote(site_meta.get_field('slug').column)} = %s"
    )
    return sql, site_fields, org_fields


def _from_db_values(fields: list[Field], row: tuple) -> list:
    """A row's values as the ORM would load them (a JSON column is decoded, for one)."""
    values = []
    for field, value in zip(fields, row, strict=True):
        for converter in field.get_db_converters(connection):
            value = converter(value, field, connection)
        values.append(value)
    return values


def public_site(slug: str) -> Site | None:
    """The site of a public page with its organization, or None for an unknown slug. What the
    pages don't read is deferred (loaded on first use, like `.only()` does)."""
    sql, site_fields, org_fields = _public_site_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [slug])
        row = cursor.fetchone()
    if row is None:
        return None
    values = _from_db_values(site_fields + org_fields, row)
    db = Site.objects.db
    site = Site.from_db(db, [f.attname for f in site_fields], values[: len(site_fields)])
    organization = Organization.from_db(
        db,
        [Organization._meta.pk.attname, *(f.attname for f in org_fields)],
        [site.organization_id, *values[len(site_fields) :]],
    )
    Site._meta.get_field("organization").set_cached_value(site, organization)
    return site


@dataclass(frozen=True)
class HostStatus:
    person: Person | None
    is_host: bool
    name: str


def host_status(*, user, site: Site) -> HostStatus | None:
    """Who is signed in on a site's pages and whether they host on it; None when nobody is.

    Nobody is, on an SSO site: its people sign in through their organization's SSO, and a
    session opened with a password (on another site's page, or the hub's) is not that."""
    if not user.is_authenticated or site.sso_enabled:
        return None
    person = Person.objects.filter(user=user).first()
    is_host = person is not None and HostLicense.objects.filter(person=person, site=site).exists()
    return HostStatus(person=person, is_host=is_host, name=user.display_name)
