"""Helpers shared by tests."""

import time

from django.core import signing

from signup.forms import STARTED_SALT
from signup.models import SignupRequest


def human(data: dict) -> dict:
    """Sign-up form data as a person sends it: the form shown a while ago, honeypot empty."""
    return {"started": signing.dumps(time.time() - 30, salt=STARTED_SALT), **data}


def headers_but_request_id(response) -> tuple:
    return tuple(sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID"))


def pending_requests_create(site, count: int, *, prefix: str = "b", names: bool = False) -> None:
    """`count` pending requests on `site` in one INSERT (`<prefix><i>@d<i % 7>.example.net`,
    named First<i> Last<i> when `names`)."""
    SignupRequest.objects.bulk_create(
        SignupRequest(
            organization=site.organization,
            site=site,
            email=f"{prefix}{i}@d{i % 7}.example.net",
            email_normalized=f"{prefix}{i}@d{i % 7}.example.net",
            first_name=f"First{i}" if names else "",
            last_name=f"Last{i}" if names else "",
            status="pending",
            decision_basis="mode",
        )
        for i in range(count)
    )
