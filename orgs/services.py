"""Writes to the directory: people and their host licenses."""

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from alerts.audit import audit_fields, audit_record
from alerts.models import AuditEvent
from orgs.models import (
    Administrator,
    HostLicense,
    LicenseTemplate,
    Organization,
    Person,
    User,
)
from sites.domains import normalize_email
from sites.models import SUBMITTED_FIELD_LABELS, Site


class EmailInOtherOrganization(Exception):
    """The address belongs to a person of another organization."""


# What a person's profile keeps of a sign-up: every submitted field but the names.
PROFILE_KEYS = tuple(
    key for key in SUBMITTED_FIELD_LABELS if key not in ("first_name", "last_name")
)


def profile_from_fields(fields: dict) -> dict:
    """The profile part of submitted fields (names have columns of their own)."""
    return {key: fields[key] for key in PROFILE_KEYS if fields.get(key)}


def administrators_elsewhere(emails: Iterable[str]) -> dict[str, set[int]]:
    """The organizations whose administrator signs in with each of these (normalized)
    addresses: such an address is that organization's, as its people's are."""
    found: dict[str, set[int]] = {}
    for email, organization_id in Administrator.objects.filter(
        user__email__in=set(emails)
    ).values_list("user__email", "organization_id"):
        found.setdefault(email, set()).add(organization_id)
    return found


def _administers_elsewhere(email_normalized: str, organization_id: int) -> bool:
    found = administrators_elsewhere([email_normalized]).get(email_normalized, set())
    return bool(found - {organization_id})


def person_elsewhere(email_normalized: str, organization_id: int) -> bool:
    """Whether the address is one of another organization's people."""
    return (
        Person.objects.filter(email_normalized=email_normalized)
        .exclude(organization_id=organization_id)
        .exists()
    )


def is_elsewhere(email_normalized: str, organization_id: int) -> bool:
    """Whether the address is another organization's: one of its people, or the login of one
    of its administrators."""
    return _administers_elsewhere(email_normalized, organization_id) or person_elsewhere(
        email_normalized, organization_id
    )


def _find_person(*, organization_id: int, email_normalized: str) -> Person | None:
    person = Person.objects.select_for_update().filter(email_normalized=email_normalized).first()
    if person is not None and person.organization_id != organization_id:
        raise EmailInOtherOrganization(email_normalized)
    return person


def person_get_or_create(
    *,
    organization: Organization,
    email: str,
    fields: dict,
    source: str,
    acting_user: User | None,
    language: str = "en",
) -> tuple[Person, bool]:
    """Find the organization's person with this address (locked) or create them.

    Raises EmailInOtherOrganization when the address is someone else's. Must run inside the
    caller's transaction. Applies no license: callers decide which licenses a person gets.
    """
    email_normalized = normalize_email(email)
    person = _find_person(organization_id=organization.pk, email_normalized=email_normalized)
    if person is not None:
        return person, False
    if _administers_elsewhere(email_normalized, organization.pk):
        raise EmailInOtherOrganization(email_normalized)
    try:
        with transaction.atomic():
            person = Person.objects.create(
                organization=organization,
                email=email.strip(),
                email_normalized=email_normalized,
                first_name=fields.get("first_name", ""),
                last_name=fields.get("last_name", ""),
                profile=profile_from_fields(fields),
                language=language,
                source=source,
                created_by=acting_user,
                # Someone who already signs in (an administrator, say) keeps their login.
                user=User.objects.filter(email=email_normalized).first(),
            )
    except IntegrityError:
        # Created by someone else a moment ago: take theirs.
        person = _find_person(organization_id=organization.pk, email_normalized=email_normalized)
        if person is None:
            raise
        return person, False
    return person, True


def licenses_grant(
    *, person: Person, sites: list[Site], source: str, acting_user: User | None
) -> None:
    """Give `person` a host license on each of `sites` they don't hold one on (one INSERT)."""
    if any(site.organization_id != person.organization_id for site in sites):
        raise ValueError("a license is only granted on a site of the person's organization")
    HostLicense.objects.bulk_create(
        [
            HostLicense(person=person, site=site, source=source, granted_by=acting_user)
            for site in sites
        ],
        ignore_conflicts=True,
    )


def license_remove(*, license: HostLicense, acting_user: User) -> bool:
    """Take back a host license (given on the wrong site, say), with its audit event; return
    False when it was already gone. The person stays in the directory."""
    with transaction.atomic():
        deleted, _by_model = HostLicense.objects.filter(pk=license.pk).delete()
        if not deleted:
            return False
        audit_record(
            organization_id=license.site.organization_id,
            action=AuditEvent.Action.LICENSE_REMOVED,
            actor=acting_user,
            site=license.site,
            changes={"email": license.person.email, "site": license.site.slug},
        )
    return True


def person_delete(*, person: Person, acting_user: User) -> bool:
    """Remove a person from the directory (an operator's action), with their host licenses,
    and record it in the organization's audit trail: one event for each site whose license
    went (so that its site administrators see it), or one for the organization when they held
    none. Return False when they were already gone. Their login, if any, stays (it may be an
    administrator's)."""
    with transaction.atomic():
        locked = Person.objects.select_for_update().filter(pk=person.pk).first()
        if locked is None:
            return False
        sites = [
            held.site
            for held in HostLicense.objects.filter(person=locked)
            .select_related("site")
            .order_by("site__slug")
        ]
        locked.delete()
        AuditEvent.objects.bulk_create(
            AuditEvent(
                **audit_fields(
                    organization_id=locked.organization_id,
                    action=AuditEvent.Action.PERSON_DELETED,
                    actor=acting_user,
                    site=site,
                    changes={"email": locked.email, "licenses": [site.slug] if site else []},
                )
            )
            for site in sites or [None]
        )
    return True


def person_create_manually(
    *, organization: Organization, email: str, fields: dict, acting_user: User
) -> tuple[Person, Site | None]:
    """Add a person by hand: the one path that applies the automatic license template. Returns
    the person and the site whose "host account ready" email they were sent (None: none)."""
    with transaction.atomic():
        person, created = person_get_or_create(
            organization=organization,
            email=email,
            fields=fields,
            source=Person.Source.MANUAL,
            acting_user=acting_user,
        )
        if not created:
            raise PersonExists(email)
        template = (
            LicenseTemplate.objects.filter(organization=organization, enabled=True)
            .prefetch_related("sites")
            .first()
        )
        template_sites = (
            sorted(template.sites.all(), key=lambda site: site.name) if template else []
        )
        licenses_grant(
            person=person,
            sites=template_sites,
            source=HostLicense.Source.TEMPLATE,
            acting_user=acting_user,
        )
        # Activation happens on a site that takes its own sign-ins: not a government or SSO one.
        emailed_for = next((site for site in template_sites if site.signup_supported), None)
        if emailed_for is not None:
            _host_added_email(person, emailed_for, acting_user)
        audit_record(
            organization_id=organization.pk,
            action=AuditEvent.Action.PERSON_CREATED,
            actor=acting_user,
            changes={
                "email": person.email,
                "source": person.source,
                "template_licenses": [site.slug for site in template_sites],
            },
        )
    return person, emailed_for


def _host_added_email(person: Person, site: Site, acting_user: User) -> None:
    """Tell a person added with a license how to sign in: one email, for `site` (a password
    chosen there signs them in on every site)."""
    from mail.services import email_queue_many
    from signup.emails import host_added
    from signup.tokens import new_nonce

    if person.user_id is None:
        person.activation_nonce = new_nonce()
        person.save(update_fields=["activation_nonce"])
    email_queue_many([host_added(person=person, site=site, added_by=acting_user.display_name)])


class PersonExists(Exception):
    """The organization already has a person with this address."""
