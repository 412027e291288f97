"""Logins saved as typed on the operators' user pages (`Boss@Bravo.example`) are stored the way
every lookup compares them. One whose normalized form another login already has is left as it is
and named in the output, for an operator to merge by hand."""

from django.db import migrations

from sites.domains import InvalidDomain, normalize_email


def normalize_logins(apps, schema_editor) -> None:
    User = apps.get_model("orgs", "User")
    for user in User.objects.only("email").iterator():
        try:
            normalized = normalize_email(user.email)
        except InvalidDomain:
            continue
        if normalized == user.email:
            continue
        if User.objects.filter(email__iexact=normalized).exclude(pk=user.pk).exists():
            print(f"\n  login {user.pk} left as it is: {normalized} is another login")
            continue
        User.objects.filter(pk=user.pk).update(email=normalized)


class Migration(migrations.Migration):
    dependencies = [("orgs", "0004_people_page_index")]

    operations = [migrations.RunPython(normalize_logins, migrations.RunPython.noop)]
