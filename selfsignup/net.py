"""The client's address, taken safely behind a known number of reverse proxies."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or with TRUSTED_PROXIES = n, the address the n-th proxy from us saw.

    Each trusted proxy appends the address it received the request from to X-Forwarded-For,
    so only the last n entries are trustworthy; anything left of them is what the client
    claimed and is ignored.
    """
    # Without an address (a Unix socket and no proxy configured) everyone shares one counter.
    remote = _plain(request.META.get("REMOTE_ADDR", "")) or "0.0.0.0"  # noqa: S104
    proxies = settings.TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    return _plain(forwarded[-proxies]) or remote


def _plain(value: str) -> str:
    """The address in its usual form, an IPv4 client seen through IPv6 (`::ffff:a.b.c.d`) as
    IPv4: the limits count IPv6 addresses by /64, which would put every such client in one
    counter. Empty when it is no address."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return ""
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)
