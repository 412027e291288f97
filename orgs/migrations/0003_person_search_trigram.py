"""Trigram indexes for the People page's search (see selfsignup/search.py), on PostgreSQL."""

from django.db import migrations

from selfsignup.search import TrigramIndexes


class Migration(migrations.Migration):
    # The indexes are built CONCURRENTLY, which can't run inside a transaction.
    atomic = False

    dependencies = [
        ('orgs', '0002_initial'),
    ]

    operations = [
        TrigramIndexes(
            'orgs_person',
            {
                'orgs_person_search_email_trgm': 'email_normalized',
                'orgs_person_search_first_name_trgm': 'first_name',
                'orgs_person_search_last_name_trgm': 'last_name',
            },
        ),
    ]
