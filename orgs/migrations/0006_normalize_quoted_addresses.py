"""Addresses stored with quotes that change nothing (`"ann"@acme.example`) are stored the way
every lookup now compares them (`ann@acme.example`). A login or person whose new form another
already has is left as it is and named in the output, for an operator to merge by hand."""

from django.db import migrations

from sites.domains import InvalidDomain, normalize_email


def _renormalized(value: str) -> str | None:
    try:
        normalized = normalize_email(value)
    except InvalidDomain:
        return None
    return None if normalized == value else normalized


def normalize_quoted(apps, schema_editor) -> None:
    User = apps.get_model("orgs", "User")
    for user in User.objects.filter(email__startswith='"').only("email").iterator():
        normalized = _renormalized(user.email)
        if normalized is None:
            continue
        if User.objects.filter(email__iexact=normalized).exclude(pk=user.pk).exists():
            print(f"\n  login {user.pk} left as it is: {normalized} is another login")
            continue
        User.objects.filter(pk=user.pk).update(email=normalized)
    Person = apps.get_model("orgs", "Person")
    quoted = Person.objects.filter(email_normalized__startswith='"').only("email_normalized")
    for person in quoted.iterator():
        normalized = _renormalized(person.email_normalized)
        if normalized is None:
            continue
        if Person.objects.filter(email_normalized=normalized).exclude(pk=person.pk).exists():
            print(f"\n  person {person.pk} left as it is: {normalized} is another person")
            continue
        Person.objects.filter(pk=person.pk).update(email_normalized=normalized)


class Migration(migrations.Migration):
    dependencies = [("orgs", "0005_normalize_user_logins")]

    operations = [migrations.RunPython(normalize_quoted, migrations.RunPython.noop)]
