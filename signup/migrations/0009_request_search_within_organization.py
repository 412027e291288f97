"""The Alerts center's search indexes lead with the organization (see selfsignup/search.py).

The queue always searches one organization's requests. With indexes on the trigrams alone, a
name that 1% of the requests have was found either through every organization's matches or by
reading the organization's requests in date order, whichever the planner guessed cheaper from
sampled statistics: 1 or 5 ms at 10,000 requests an organization, changing with each ANALYZE.
These read only the organization's matches."""

from django.db import migrations

from selfsignup.search import TrigramIndexes, TrigramIndexesRemoved


class Migration(migrations.Migration):
    # The indexes are built and dropped CONCURRENTLY, which can't run inside a transaction.
    atomic = False

    dependencies = [
        ("signup", "0008_request_basis_held"),
    ]

    operations = [
        TrigramIndexes(
            "signup_signuprequest",
            {
                "signup_search_org_email_trgm": "email_normalized",
                "signup_search_org_first_name_trgm": "first_name",
                "signup_search_org_last_name_trgm": "last_name",
            },
            within="organization_id",
        ),
        TrigramIndexesRemoved(
            "signup_signuprequest",
            {
                "signup_search_email_trgm": "email_normalized",
                "signup_search_first_name_trgm": "first_name",
                "signup_search_last_name_trgm": "last_name",
            },
        ),
    ]
