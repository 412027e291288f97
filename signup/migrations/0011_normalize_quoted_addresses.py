"""Requests whose address was stored with quotes that change nothing (`"ann"@acme.example`)
are compared the way every lookup now compares them (`ann@acme.example`). An open request whose
new form another open request of its site already has is left as it is and named in the output:
an administrator decides both."""

from django.db import migrations

from sites.domains import InvalidDomain, normalize_email

OPEN = ("unconfirmed", "pending")


def normalize_quoted(apps, schema_editor) -> None:
    SignupRequest = apps.get_model("signup", "SignupRequest")
    quoted = SignupRequest.objects.filter(email_normalized__startswith='"')
    for req in quoted.only("site_id", "status", "email_normalized").iterator():
        try:
            normalized = normalize_email(req.email_normalized)
        except InvalidDomain:
            continue
        if normalized == req.email_normalized:
            continue
        twin = SignupRequest.objects.filter(
            site_id=req.site_id, email_normalized=normalized, status__in=OPEN
        ).exclude(pk=req.pk)
        if req.status in OPEN and twin.exists():
            print(f"\n  request {req.pk} left as it is: {normalized} has another open request")
            continue
        SignupRequest.objects.filter(pk=req.pk).update(email_normalized=normalized)


class Migration(migrations.Migration):
    dependencies = [("signup", "0010_request_organization_no_single_index")]

    operations = [migrations.RunPython(normalize_quoted, migrations.RunPython.noop)]
