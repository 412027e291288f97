"""Helpers shared by tests."""

import time

from django.core import signing

from signup.forms import STARTED_SALT


def human(data: dict) -> dict:
    """Sign-up form data as a person sends it: the form shown a while ago, honeypot empty."""
    return {"started": signing.dumps(time.time() - 30, salt=STARTED_SALT), **data}


def headers_but_request_id(response) -> tuple:
    return tuple(sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID"))
