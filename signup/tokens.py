"""Signed, expiring tokens for email confirmation and account activation.

A token carries the object's id and a nonce stored on the object; it is single-use because using it
changes the state it was issued for (and the nonce is compared in constant time).
"""

import secrets

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare

CONFIRM_SALT = "signup.confirm"
ACTIVATE_SALT = "signup.activate"


class BadToken(Exception):
    """The token is malformed, tampered with, expired or already used."""


def new_nonce() -> str:
    return secrets.token_hex(16)


def confirmation_token(*, request_id: int, nonce: str) -> str:
    return signing.dumps({"r": request_id, "n": nonce}, salt=CONFIRM_SALT, compress=False)


def read_confirmation_token(token: str) -> tuple[int, str]:
    """Return (request id, nonce); raise BadToken unless the signature is good and fresh."""
    data = _load(token, CONFIRM_SALT, settings.SIGNUP_CONFIRMATION_MAX_AGE)
    return _int(data.get("r")), str(data.get("n", ""))


def activation_token(*, person_id: int, site_id: int, nonce: str) -> str:
    return signing.dumps({"p": person_id, "s": site_id, "n": nonce}, salt=ACTIVATE_SALT)


def read_activation_token(token: str) -> tuple[int, int, str]:
    data = _load(token, ACTIVATE_SALT, settings.SIGNUP_ACTIVATION_MAX_AGE)
    return _int(data.get("p")), _int(data.get("s")), str(data.get("n", ""))


def nonce_matches(expected: str, given: str) -> bool:
    return bool(expected) and constant_time_compare(expected, given)


def _load(token: str, salt: str, max_age: int) -> dict:
    if len(token) > 500:
        raise BadToken("too long")
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature as exc:  # includes SignatureExpired
        raise BadToken(str(exc)) from exc
    if not isinstance(data, dict):
        raise BadToken("malformed")
    return data


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadToken("malformed")
    return value
