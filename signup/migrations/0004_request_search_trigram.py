"""Trigram indexes for the Alerts center's search, on PostgreSQL.

The search matches each word anywhere in a request's normalized email, first name or last name
(`icontains`, which PostgreSQL runs as `UPPER(column::text) LIKE UPPER('%word%')`). Without these
indexes a word that few requests contain reads every request of the organization. Each index is
built on exactly that expression, or the planner can't use it: `tests/test_query_counts.py`
checks that it does. They are built CONCURRENTLY, so a large table keeps taking sign-ups while
they are made. pg_trgm is a trusted extension: a role that may create objects in the database
may install it. Other databases (SQLite) get neither.
"""

from django.db import migrations

COLUMNS = {
    'signup_search_email_trgm': 'email_normalized',
    'signup_search_first_name_trgm': 'first_name',
    'signup_search_last_name_trgm': 'last_name',
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != 'postgresql':
        return
    schema_editor.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for name, column in COLUMNS.items():
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "signup_signuprequest" '
            f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != 'postgresql':
        return
    # The extension stays: something else in the database may use it.
    for name in COLUMNS:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY can't run inside a transaction.
    atomic = False

    dependencies = [
        ('signup', '0003_submission_drain'),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
