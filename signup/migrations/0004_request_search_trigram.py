"""Trigram indexes for the Alerts center's search (see selfsignup/search.py), on PostgreSQL."""

from django.db import migrations

from selfsignup.search import TrigramIndexes


class Migration(migrations.Migration):
    # The indexes are built CONCURRENTLY, which can't run inside a transaction.
    atomic = False

    dependencies = [
        ('signup', '0003_submission_drain'),
    ]

    operations = [
        TrigramIndexes(
            'signup_signuprequest',
            {
                'signup_search_email_trgm': 'email_normalized',
                'signup_search_first_name_trgm': 'first_name',
                'signup_search_last_name_trgm': 'last_name',
            },
        ),
    ]
