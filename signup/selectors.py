"""Reads for the public pages."""

from dataclasses import dataclass

from orgs.models import HostLicense, Person
from sites.models import Site


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
