"""A settings save's audit event now carries the version it made (the site's
`settings_updated_at`), and a page is refused only when an event after its version has another
actor. Events written before were a few milliseconds later than their version: the latest of
each site is set to its version, so that the page showing it is not refused for its own save."""

from datetime import timedelta

from django.db import migrations

# How much later than the save's version its event could be written (the same transaction).
SAME_SAVE = timedelta(seconds=5)


def align(apps, schema_editor) -> None:
    Site = apps.get_model("sites", "Site")
    AuditEvent = apps.get_model("alerts", "AuditEvent")
    saved = Site.objects.exclude(settings_updated_at=None).values_list("pk", "settings_updated_at")
    for site_id, version in saved.iterator():
        event = (
            AuditEvent.objects.filter(
                site_id=site_id,
                action="settings_updated",
                created_at__gte=version,
                created_at__lte=version + SAME_SAVE,
            )
            .order_by("created_at", "pk")
            .first()
        )
        if event is not None and event.created_at != version:
            AuditEvent.objects.filter(pk=event.pk).update(created_at=version)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0004_audit_person_deleted"),
        ("sites", "0002_site_rules_apply_requested_at"),
    ]

    operations = [migrations.RunPython(align, migrations.RunPython.noop)]
