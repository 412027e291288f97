"""Rate limits (django-ratelimit on the shared cache): their keys and their rates.

Rates come from settings (the environment) when a request is checked, so they can change
without code; the keys normalize what they count so that case, a trailing dot, quotes or a
`+tag` buy nothing.
"""

import functools
import logging
import math
import time
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.signing import BadSignature
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_ratelimit import core as ratelimit_core
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from redis.commands.core import Script
from redis.exceptions import RedisError

from sites.domains import InvalidDomain, normalize_email

logger = logging.getLogger(__name__)

# Retry-After when the limit's own window is not known (the cache could not count).
RETRY_AFTER_SECONDS = 300


def _address(value: str) -> str:
    try:
        return normalize_email(value)
    except InvalidDomain:
        return value.strip().lower()[:320]


def _mailbox(value: str) -> str:
    """The mailbox an address reaches, for counting only: `Ann+x@d`, `"ann"@d`, `ann@d` are
    one."""
    local, _at, domain = _address(value).rpartition("@")
    if len(local) >= 2 and local[0] == local[-1] == '"':
        local = local[1:-1].replace("\\", "")
    return f"{local.split('+', 1)[0]}@{domain}"


def signup_address_key(group: str, request: HttpRequest) -> str:
    """One counter per site and mailbox: repeated sign-ups (and their re-sent emails)."""
    slug = request.resolver_match.kwargs.get("slug", "")
    return f"{slug}:{_mailbox(request.POST.get('email', ''))}"


def account_key(group: str, request: HttpRequest) -> str:
    """One counter per account tried at a sign-in form."""
    return _address(request.POST.get("username", ""))


def signup_ip_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGNUP_PER_IP


def signup_address_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGNUP_PER_ADDRESS


def signin_ip_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGNIN_PER_IP


def signin_account_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGNIN_PER_ACCOUNT


# In the order the stacked decorators counted them: a request over the address limit was
# refused before the per-IP counter was touched.
SIGNUP_LIMITS = (
    {"group": "signup-address", "key": signup_address_key, "rate": signup_address_rate},
    {"group": "signup-ip", "key": "ip", "rate": signup_ip_rate},
)


SIGNUP_ADDRESS_LIMIT = SIGNUP_LIMITS[0]["group"]


def signup_limited(request: HttpRequest) -> str | None:
    """Count a valid sign-up against its limits (per site and mailbox, then per client
    address); the group of the limit it goes over, or None.

    Over the client address's limit, the view answers 429, with a page that says so. Over the
    mailbox's, it answers as it does every valid sign-up (SPEC section 5: the page never tells
    what happened to an address, nor whether others asked for it) and stores nothing, so
    nothing is sent: the emails already sent to that mailbox say what to do.

    Only valid forms count: they are what stores a request and sends an email, while a form
    answered with its errors changes nothing, so a person correcting it is never locked out,
    nor is everyone who leaves the address empty."""
    over = _over(request, SIGNUP_LIMITS)
    if over is None:
        return None
    request.limited_by, request.retry_after = over
    return request.limited_by


def _over(request: HttpRequest, limits: tuple[dict, ...]) -> tuple[str, int] | None:
    """Count this request against each limit; when it goes over one of them, that limit's group
    and the seconds until its window ends.

    The counters are django-ratelimit's own (same keys, windows and expiry), and so is the
    answer when the cache can't count (RATELIMIT_FAIL_OPEN). On Redis they are counted by one
    script in one round trip, where the library takes up to two round trips per limit and sends
    a script's whole text with each increment: this is on every sign-up POST."""
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    cache = caches[settings.RATELIMIT_USE_CACHE]
    if not isinstance(cache, RedisCache):
        for limit in limits:
            usage = get_usage(request, method="POST", increment=True, **limit)
            if usage is not None and usage["should_limit"]:
                return limit["group"], usage["time_left"]
        return None
    counters = [_counter(request, cache, **limit) for limit in limits]
    try:
        client = get_redis_connection(settings.RATELIMIT_USE_CACHE)
        counts = _COUNT_SCRIPT(
            keys=[counter.key for counter in counters],
            args=[arg for counter in counters for arg in (counter.lifetime, counter.limit)],
            client=client,
        )
    except (RedisError, OSError) as exc:
        logger.warning("rate limits not counted, the cache is unavailable: %s", exc)
        if getattr(settings, "RATELIMIT_FAIL_OPEN", False):
            return None
        return "", RETRY_AFTER_SECONDS  # no limit known to be reached: the plain message
    for count, counter, limit in zip(counts, counters, limits, strict=False):
        if count > counter.limit:
            return limit["group"], max(int(counter.window - time.time()), 1)
    return None


# Adds one to each key in turn, and gives a key it creates its lifetime (ARGV: lifetime, limit
# for each key), stopping after the first key over its limit: the value is what
# django-ratelimit's `cache.add` or `cache.incr` leaves there.
_COUNT_LUA = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[2 * i - 1]) end
  if counts[i] > tonumber(ARGV[2 * i]) then break end
end
return counts
"""

# Sent by its hash (EVALSHA) on the client given at each call, loaded again by redis-py if the
# server has lost it. Not tied to a client: Django makes a cache (and so a Redis client) per
# thread or ASGI request, and a cache keyed on them would keep every one alive.
_COUNT_SCRIPT = Script(None, _COUNT_LUA.encode())


class Counter(NamedTuple):
    key: str  # the cache key, as django-ratelimit makes it
    limit: int
    lifetime: int  # seconds the key lives once created
    window: int  # when the current window ends (a Unix time)


def _counter(request: HttpRequest, cache: RedisCache, *, group: str, key, rate) -> Counter:
    """A limit's counter for this request, as django-ratelimit computes it
    (`django_ratelimit.core.get_usage`)."""
    rate = rate(group, request)
    limit, period = ratelimit_core._split_rate(rate)
    value = (
        ratelimit_core._SIMPLE_KEYS[key](request) if isinstance(key, str) else key(group, request)
    )
    window = ratelimit_core._get_window(value, period)
    cache_key = ratelimit_core._make_cache_key(group, window, rate, value, "POST")
    return Counter(
        cache.make_key(cache_key), limit, period + ratelimit_core.EXPIRATION_FUDGE, window
    )


SIGNIN_LIMITS = (
    {"group": "signin-ip", "key": "ip", "rate": signin_ip_rate},
    {"group": "signin-account", "key": account_key, "rate": signin_account_rate},
)


def _successes(limit: dict) -> dict:
    """The counter of the tries a limit gave back (same key, rate and window)."""
    return {**limit, "group": f"{limit['group']}-ok"}


# A browser that has signed in to an account before carries that account in a signed cookie,
# and the account's own limit doesn't apply to it (its client address's limit still does): a
# stranger failing on purpose can't lock the account's owner out of their own browser.
KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_DEVICE_SALT = "selfsignup.known-device"
KNOWN_DEVICE_MAX_AGE = 180 * 24 * 3600
KNOWN_DEVICE_ACCOUNTS = 5  # the most recent accounts a browser is known for


def _account_tag(user_id: int, password_hash: str) -> str:
    """An account as the cookie holds it: a keyed digest of the account and its password, so
    that changing the password (after a leak, say) ends every browser's exemption."""
    return salted_hmac(KNOWN_DEVICE_SALT, f"{user_id}:{password_hash}").hexdigest()[:20]


def _known_device(request: HttpRequest) -> bool:
    """Whether this browser signed in before to the account it is trying now (one query, only
    for a browser that carries the cookie)."""
    known = _known_accounts(request)
    if not known:
        return False
    account = account_key("signin-account", request)
    user = get_user_model().objects.filter(email=account).values_list("pk", "password").first()
    return user is not None and _account_tag(*user) in known


def _known_accounts(request: HttpRequest) -> list[str]:
    try:
        value = request.get_signed_cookie(
            KNOWN_DEVICE_COOKIE, salt=KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_MAX_AGE
        )
    except (KeyError, BadSignature):
        return []
    return value.split(",")[:KNOWN_DEVICE_ACCOUNTS]


def _remember_device(request: HttpRequest, response: HttpResponse, tag: str) -> None:
    tags = [tag, *(known for known in _known_accounts(request) if known != tag)]
    response.set_signed_cookie(
        KNOWN_DEVICE_COOKIE,
        ",".join(tags[:KNOWN_DEVICE_ACCOUNTS]),
        salt=KNOWN_DEVICE_SALT,
        max_age=KNOWN_DEVICE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def limit_signins(view):
    """Sign-in POSTs (hub, sites, operators' admin): failed tries per client address and per
    account tried.

    Only failures count (a POST answered with the form again rather than a redirect), so that
    people who sign in often are never locked out; once either count reaches its limit, every
    try is refused, the right password included, until the window ends, except that a browser
    which signed in to the account before is held to its client address's limit only. A try is
    counted before its password is checked, and given back when it succeeds: tries sent at
    once can't all pass a count that none of them has added to yet."""

    @functools.wraps(view)
    def limited(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        limits = SIGNIN_LIMITS
        if _known_device(request):
            limits = tuple(limit for limit in limits if limit["group"] != "signin-account")
        reached = {}  # the limits reached, with the seconds until each lifts
        for limit in limits:
            tries = get_usage(request, method="POST", increment=True, **limit)
            given_back = get_usage(request, method="POST", increment=False, **_successes(limit))
            if tries is not None:
                failed_before = tries["count"] - 1 - (given_back or {}).get("count", 0)
                if failed_before >= tries["limit"]:
                    reached[limit["group"]] = tries["time_left"]
        if reached:
            # The account's limit is named first: it is the one that waiting elsewhere won't lift.
            request.limited_by = "signin-account" if "signin-account" in reached else "signin-ip"
            request.retry_after = max(reached.values())
            raise Ratelimited()
        response = view(request, *args, **kwargs)
        if response.status_code != 200:
            for limit in limits:
                get_usage(request, method="POST", increment=True, **_successes(limit))
            if request.user.is_authenticated:
                user = request.user
                _remember_device(request, response, _account_tag(user.pk, user.password))
        return response

    return limited


def too_many(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The answer over a limit: 429 with a page in the visitor's language that says which limit
    and how long until it lifts (also in Retry-After)."""
    retry_after = max(getattr(request, "retry_after", RETRY_AFTER_SECONDS), 1)
    minutes = math.ceil(retry_after / 60)
    wait = ngettext(
        "Try again in %(minutes)s minute.", "Try again in %(minutes)s minutes.", minutes
    ) % {"minutes": minutes}
    limited_by = getattr(request, "limited_by", "")
    if limited_by == "signin-account":
        message = _("Too many failed sign-ins with this email address.")
    else:
        message = _("Too many attempts from here.")
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("slug") if match and match.namespace == "signup" else None
    response = render(
        request, "429.html", {"message": message, "wait": wait, "slug": slug}, status=429
    )
    response["Retry-After"] = str(retry_after)
    return response
