"""Data the benchmarks load: organizations (each with a commercial site open to sign-up and a
full administrator) and host account requests in bulk."""

import io
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

from orgs.models import Administrator, Organization, User
from signup.models import SignupRequest
from sites.models import Site

BATCH_SIZE = 20_000
# COPY's text format: backslash first, then the characters that separate fields and rows.
_ESCAPES = [("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")]
SPREAD = timedelta(days=90)
# Family names as varied as a real queue's (a search's trigrams are then as selective as they
# would be): each is about 1% of the requests.
SURNAMES = (  # noqa: SIM905
    "Abadi Adeyemi Alvarez Andersen Aoki Arslan Bauer Becker Bianchi Bjork Blanc Borges "
    "Brennan Castillo Chen Costa Dubois Duarte Eriksen Esposito Farouk Fischer Fontaine "
    "Garcia Gomes Gonzalez Gruber Haddad Hansen Hartmann Horvath Hoang Ibrahim Ivanova Jansen "
    "Jovanovic Kaur Kaya Keller Kim Kowalski Kruger Lambert Larsen Lefebvre Lindqvist Lopez "
    "Lund Mahlaba Marino Martins Meyer Mishra Moreau Murphy Nakamura Navarro Nielsen Novak "
    "Nowak Okafor Oliveira Olsen Ortiz Papadopoulos Park Pereira Petrov Popescu Quispe Rahman "
    "Ramos Reyes Ricci Rossi Sato Schmidt Silva Sokolov Suzuki Svensson Takahashi Tanaka "
    "Torres Tran Ueda Varga Vasquez Vogel Wagner Walsh Weber Wojcik Yamamoto Yilmaz Zapata "
    "Zhang Zielinski Zimmermann"
).split()


@dataclass(frozen=True)
class Tenant:
    organization: Organization
    site: Site
    admin: User


def tenant_create(key: str, *, slug: str | None = None) -> Tenant:
    """An organization with one commercial site (sign-up on, first and last name required,
    no email confirmation) and one full administrator."""
    organization = Organization.objects.create(name=f"Bench {key}", slug=f"bench-{key}")
    site = Site.objects.create(
        organization=organization,
        name=f"Bench site {key}",
        slug=slug or f"bench-site-{key}",
        kind=Site.Kind.COMMERCIAL,
        signup_enabled=True,
        require_confirmation=False,
        required_fields=["first_name", "last_name"],
    )
    admin = User(email=f"admin-{key}@bench-admins.example", full_name=f"Admin {key}")
    admin.set_unusable_password()
    admin.save()
    Administrator.objects.create(
        user=admin, organization=organization, role=Administrator.Role.FULL
    )
    return Tenant(organization, site, admin)


def site_admin_create(tenant: Tenant) -> User:
    """A site administrator of the tenant's site."""
    user = User(email=f"site-admin-{tenant.site.slug}@bench-admins.example", full_name="Site admin")
    user.set_unusable_password()
    user.save()
    admin = Administrator.objects.create(
        user=user, organization=tenant.organization, role=Administrator.Role.SITE
    )
    admin.sites.add(tenant.site)
    return user


def _requests(
    tenant: Tenant,
    count: int,
    *,
    prefix: str,
    pending: float,
    rng: random.Random,
    surname: str | None,
) -> Iterator[dict]:
    now = timezone.now()
    for number in range(count):
        created = now - SPREAD * rng.random()
        email = f"{prefix}{number}@d{number % 97}.requests.example"
        row = {
            "organization_id": tenant.organization.pk,
            "site_id": tenant.site.pk,
            "email": email,
            "email_normalized": email,
            "first_name": rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara"]),
            "last_name": surname or rng.choice(SURNAMES),
            "required_fields": ["first_name", "last_name"],
            "status": SignupRequest.Status.PENDING,
            "decision_basis": SignupRequest.Basis.MODE,
            "created_at": created,
            "last_notified_at": created,
        }
        draw = rng.random()
        if draw >= pending:
            approved = draw < pending + (1 - pending) / 2
            row["status"] = "approved" if approved else "rejected"
            row["decision_basis"] = SignupRequest.Basis.ADMINISTRATOR
            row["decided_by_id"] = tenant.admin.pk
            row["decided_at"] = created + timedelta(hours=1)
        yield row


def _text(value: object) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, cls=DjangoJSONEncoder)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def _default(field: models.Field, blank: models.Model) -> object:
    value = field.pre_save(blank, add=True)
    if isinstance(field, models.JSONField):
        return value  # _text writes it as JSON
    return field.get_db_prep_save(value, connection)


def copy_create(model: type[models.Model], rows: Iterable[dict]) -> int:
    """Insert rows (dicts by attribute name) with COPY, in batches. Every other concrete field
    but the id takes the value a new instance would get on save (its default, auto_now...)."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    blank = model()
    defaults = {f.attname: _text(_default(f, blank)) for f in fields}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    names = [f.attname for f in fields]
    rows, count = iter(rows), 0
    with connection.cursor() as cursor:
        while batch := list(islice(rows, BATCH_SIZE)):
            text = "".join(
                "\t".join(_text(row[n]) if n in row else defaults[n] for n in names) + "\n"
                for row in batch
            )
            cursor.cursor.copy_expert(sql, io.StringIO(text))
            count += len(batch)
    return count


def requests_create(
    tenant: Tenant,
    count: int,
    *,
    prefix: str = "r",
    pending: float = 0.8,
    seed: int = 1,
    surname: str | None = None,
) -> int:
    """`count` requests on the tenant's site, with COPY: a share `pending` of them pending, the
    rest approved or rejected by its administrator; created over the last 90 days. Their family
    names are drawn from SURNAMES, or all `surname`."""
    rows = _requests(
        tenant, count, prefix=prefix, pending=pending, rng=random.Random(seed), surname=surname
    )
    return copy_create(SignupRequest, rows)
