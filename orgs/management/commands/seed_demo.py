"""Load the demo data of SPEC section 10. Running it again changes nothing."""

from django.core.management.base import BaseCommand
from django.db import transaction

from orgs.models import Administrator, LicenseTemplate, Organization, User
from sites.models import Site
from sites.services import SettingsValues, site_settings_update

DEMO = [
    {
        "org": ("Acme", "acme"),
        "admin": ("admin@acme.example", "acme-demo-password", "Ana Admin"),
        "sites": [
            ("Acme", "acme", Site.Kind.COMMERCIAL),
            ("Acme Government", "acme-gov", Site.Kind.GOVERNMENT),
        ],
    },
    {
        "org": ("Globex", "globex"),
        "admin": ("admin@globex.example", "globex-demo-password", "Gus Globex"),
        "sites": [("Globex", "globex", Site.Kind.COMMERCIAL)],
    },
]

ACME_SETTINGS = SettingsValues(
    signup_enabled=True,
    approve_entries=["acme.example"],
    reject_entries=["spam.example"],
    mode=Site.Mode.REVIEW,
    required_fields=["first_name", "last_name"],
)


class Command(BaseCommand):
    help = "Load the demo organizations, administrators and sites (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        for entry in DEMO:
            name, slug = entry["org"]
            org, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": name})
            LicenseTemplate.objects.get_or_create(organization=org)
            email, password, full_name = entry["admin"]
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email, password, full_name=full_name)
            Administrator.objects.get_or_create(
                user=user, defaults={"organization": org, "role": Administrator.Role.FULL}
            )
            for site_name, site_slug, kind in entry["sites"]:
                site, created = Site.objects.get_or_create(
                    slug=site_slug, defaults={"name": site_name, "organization": org, "kind": kind}
                )
                if created and site_slug == "acme":
                    site_settings_update(site_id=site.pk, acting_user=user, values=ACME_SETTINGS)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write("Hub: /hub/login/ as admin@acme.example / acme-demo-password")
        self.stdout.write("Also: admin@globex.example / globex-demo-password")
        self.stdout.write("Public site with sign-up: /sites/acme/")
