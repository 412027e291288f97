"""Requests lose the index on their organization alone (see SignupRequest.organization).

Only the index goes, CONCURRENTLY on PostgreSQL, so that neither reads nor sign-ups wait for
it: Django's AlterField would also drop and re-add the foreign key, checking every row under a
lock that holds up sign-ups on a big table."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "signup_signuprequest_organization_id_84f258c3"


def _concurrently(schema_editor) -> str:
    return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""


def drop_index(apps, schema_editor) -> None:
    schema_editor.execute(f'DROP INDEX {_concurrently(schema_editor)}IF EXISTS "{INDEX}"')


def create_index(apps, schema_editor) -> None:
    schema_editor.execute(
        f'CREATE INDEX {_concurrently(schema_editor)}IF NOT EXISTS "{INDEX}" '
        'ON "signup_signuprequest" ("organization_id")'
    )


class Migration(migrations.Migration):
    # CONCURRENTLY can't run inside a transaction.
    atomic = False

    dependencies = [
        ("orgs", "0005_normalize_user_logins"),
        ("signup", "0009_request_search_within_organization"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="signuprequest",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="signup_requests",
                        to="orgs.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_index, create_index, atomic=False),
            ],
        ),
    ]
