"""Reads about organizations and their people."""

from dataclasses import dataclass

from django.db.models import Q

from orgs.models import Administrator
from sites.models import Site


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str


def review_recipients(site: Site) -> list[Recipient]:
    """Who gets the review notification emails of `site`, each in their own language."""
    if site.notify == Site.Notify.ADDRESSES:
        languages = dict(
            Administrator.objects.filter(
                organization_id=site.organization_id,
                user__email__in=[a.lower() for a in site.notify_addresses],
            ).values_list("user__email", "language")
        )
        default = site.organization.language
        return [Recipient(a, languages.get(a.lower(), default)) for a in site.notify_addresses]
    admins = Administrator.objects.filter(
        organization_id=site.organization_id, user__is_active=True
    ).select_related("user")
    if site.notify == Site.Notify.SITE_ADMINS:
        admins = admins.filter(
            Q(role=Administrator.Role.FULL) | Q(role=Administrator.Role.SITE, sites=site)
        ).distinct()
    else:
        admins = admins.full()
    return [Recipient(a.user.email, a.language) for a in admins]
