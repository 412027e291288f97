"""Anti-abuse and hardening: rate limits, bots, enumeration, headers, sessions and tokens."""

import os
import re
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from selfsignup.net import client_ip
from signup import tokens
from signup.models import SignupRequest, Submission
from tests import factories
from tests.helpers import headers_but_request_id, human

CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def post_signup(client, site, email="a@example.net", **extra):
    data = human({"email": email, "first_name": "A", "last_name": "B"})
    return client.post(f"/sites/{site.slug}/signup/", data, **extra)


# --- Rate limits ------------------------------------------------------------------------------


def test_signup_is_limited_per_client_address(client, site, settings):
    settings.RATELIMIT_SIGNUP_PER_IP = "3/m"
    for i in range(3):
        assert post_signup(client, site, email=f"p{i}@example.net").status_code == 200
    limited = post_signup(client, site, email="p9@example.net", HTTP_ACCEPT_LANGUAGE="fr")
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    page = limited.content.decode()
    assert "Trop de tentatives depuis cet endroit" in page and "Réessayez dans 1 minute" in page
    assert f'href="/sites/{site.slug}/"' in page
    other_client = post_signup(client, site, email="p8@example.net", REMOTE_ADDR="192.0.2.7")
    assert other_client.status_code == 200


def test_sign_ups_over_an_addresss_limit_get_the_same_page_and_store_nothing(
    client, site, settings
):
    """SPEC section 5: a valid sign-up gets the same page whatever happened behind it, so the
    page can't tell that others asked for the address. Over the mailbox's limit nothing is
    stored, so nothing more is sent to it."""
    settings.RATELIMIT_SIGNUP_PER_ADDRESS = "2/h"
    answers = [
        post_signup(client, site, email=address)
        for address in ["same@example.net", "SAME@Example.net.", "same@example.net"]
    ]
    other = post_signup(client, site, email="other@example.net")
    french = post_signup(client, site, email="same@example.net", HTTP_ACCEPT_LANGUAGE="fr")
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert other.status_code == french.status_code == 200
    assert len({CSRF.sub(b"", a.content) for a in answers}) == 1
    assert headers_but_request_id(answers[0]) == headers_but_request_id(answers[2])
    assert "Merci." in french.content.decode()
    stored = sorted(Submission.objects.values_list("email", flat=True))
    assert stored == ["SAME@Example.net", "other@example.net", "same@example.net"]


def test_forms_answered_with_their_errors_use_up_no_limit(client, site, settings):
    """Only a valid form stores a request and sends an email: a person correcting the form, or
    anyone leaving the address empty, is never locked out."""
    settings.RATELIMIT_SIGNUP_PER_ADDRESS = "2/h"
    settings.RATELIMIT_SIGNUP_PER_IP = "3/h"
    for _ in range(4):
        empty = client.post(f"/sites/{site.slug}/signup/", human({"email": ""}))
        assert empty.status_code == 200 and empty.context["form"].errors["email"]
        no_name = client.post(f"/sites/{site.slug}/signup/", human({"email": "me@example.net"}))
        assert no_name.status_code == 200 and no_name.context["form"].errors["first_name"]
    assert post_signup(client, site, email="me@example.net").status_code == 200
    assert Submission.objects.filter(email="me@example.net").count() == 1


def test_other_spellings_of_a_mailbox_share_its_limit(client, site, settings):
    settings.RATELIMIT_SIGNUP_PER_ADDRESS = "2/h"
    for address in ["victim@example.net", "Victim+1@example.net"]:
        assert post_signup(client, site, email=address).status_code == 200
    assert post_signup(client, site, email='"victim"@example.net').status_code == 200
    assert post_signup(client, site, email="victim2@example.net").status_code == 200
    stored = sorted(Submission.objects.values_list("email", flat=True))
    assert stored == ["Victim+1@example.net", "victim2@example.net", "victim@example.net"]


@pytest.mark.parametrize("path", ["/hub/login/", "/sites/{slug}/signin/"])
def test_successful_sign_ins_never_use_up_the_limits(client, site, full_admin, settings, path):
    path = path.format(slug=site.slug)
    settings.RATELIMIT_SIGNIN_PER_ACCOUNT = "3/15m"
    settings.RATELIMIT_SIGNIN_PER_IP = "3/5m"
    for _ in range(6):
        client.logout()
        answer = client.post(path, {"username": "ana@acme.example", "password": factories.PASSWORD})
        assert answer.status_code == 302
    # Failures still count, from the first one on.
    for _ in range(3):
        assert (
            client.post(path, {"username": "ana@acme.example", "password": "no"}).status_code == 200
        )
    assert client.post(path, {"username": "zed@example.net", "password": "no"}).status_code == 429


@pytest.mark.parametrize("path", ["/hub/login/", "/sites/{slug}/signin/", "/django-admin/login/"])
def test_sign_in_is_limited_per_address_and_per_account(client, site, full_admin, settings, path):
    path = path.format(slug=site.slug)
    settings.RATELIMIT_SIGNIN_PER_ACCOUNT = "3/15m"
    settings.RATELIMIT_SIGNIN_PER_IP = "5/5m"
    for _ in range(3):
        answer = client.post(path, {"username": "ana@acme.example", "password": "wrong"})
        assert answer.status_code == 200
    # The account is locked for everyone, even with the right password, from anywhere.
    locked = client.post(
        path,
        {"username": "ANA@acme.example", "password": factories.PASSWORD},
        REMOTE_ADDR="198.51.100.1",
    )
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert "Try again in" in locked.content.decode()
    # And this client address is limited whatever account it tries.
    for i in range(2):
        client.post(path, {"username": f"x{i}@example.net", "password": "wrong"})
    assert client.post(path, {"username": "y@example.net", "password": "w"}).status_code == 429


@pytest.mark.parametrize("path", ["/hub/login/", "/sites/{slug}/signin/"])
def test_strangers_failing_on_purpose_cannot_lock_the_owner_out_of_their_browser(
    site, full_admin, other_org_admin, settings, path
):
    from django.test import Client

    from selfsignup.ratelimits import KNOWN_DEVICE_COOKIE

    path = path.format(slug=site.slug)
    settings.RATELIMIT_SIGNIN_PER_ACCOUNT = "3/15m"
    settings.RATELIMIT_SIGNIN_PER_IP = "30/5m"
    right = {"username": "ana@acme.example", "password": factories.PASSWORD}
    owner = Client(REMOTE_ADDR="203.0.113.5")
    first = owner.post(path, right)
    assert first.status_code == 302
    known = first.cookies[KNOWN_DEVICE_COOKIE]
    assert known["httponly"] and "ana" not in known.value
    stranger = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(3):
        assert stranger.post(path, {**right, "password": "guess"}).status_code == 200
    assert stranger.post(path, right).status_code == 429
    # The owner's browser, signed out, signs in again; from another browser they wait.
    back = Client(REMOTE_ADDR="203.0.113.5")
    back.cookies[KNOWN_DEVICE_COOKIE] = known.value
    assert back.post(path, right).status_code == 302
    assert Client(REMOTE_ADDR="203.0.113.5").post(path, right).status_code == 429
    # A cookie earned by another account, or forged, opens nothing.
    other = Client(REMOTE_ADDR="192.0.2.44")
    login = {"username": other_org_admin.email, "password": factories.PASSWORD}
    theirs = other.post(path, login).cookies[KNOWN_DEVICE_COOKIE].value
    for value in [theirs, known.value.replace(":", ";", 1), "anything"]:
        stranger.cookies[KNOWN_DEVICE_COOKIE] = value
        assert stranger.post(path, right).status_code == 429


def test_a_password_change_ends_every_browsers_exemption(site, full_admin, settings):
    """The cookie names the account with its password: whoever had an old password keeps no
    way around the account's limit."""
    from django.test import Client

    from selfsignup.ratelimits import KNOWN_DEVICE_COOKIE

    settings.RATELIMIT_SIGNIN_PER_ACCOUNT = "3/15m"
    right = {"username": "ana@acme.example", "password": factories.PASSWORD}
    first = Client(REMOTE_ADDR="203.0.113.5").post("/hub/login/", right)
    cookie = first.cookies[KNOWN_DEVICE_COOKIE].value
    full_admin.set_password("a-new-secret-after-the-leak")
    full_admin.save()
    statuses = []
    for number in range(5):
        guesser = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")
        guesser.cookies[KNOWN_DEVICE_COOKIE] = cookie
        statuses.append(guesser.post("/hub/login/", {**right, "password": "g"}).status_code)
    assert statuses == [200, 200, 200, 429, 429]


def test_the_sign_in_429_names_the_account_limit(site, full_admin, settings):
    from django.test import Client

    settings.RATELIMIT_SIGNIN_PER_ACCOUNT = "3/15m"
    wrong = {"username": "ana@acme.example", "password": "guess"}
    for _ in range(3):
        Client(REMOTE_ADDR="198.51.100.9").post("/hub/login/", wrong)
    locked = Client(REMOTE_ADDR="203.0.113.77").post(
        "/hub/login/", {**wrong, "password": factories.PASSWORD}, HTTP_ACCEPT_LANGUAGE="fr"
    )
    page = locked.content.decode()
    assert locked.status_code == 429
    assert "Trop de connexions échouées avec cette adresse électronique" in page


def test_limits_fail_open_when_the_cache_is_down(client, site, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }
    settings.RATELIMIT_SIGNUP_PER_IP = "1/m"
    for i in range(3):
        assert post_signup(client, site, email=f"open{i}@example.net").status_code == 200


def _signup_post(site, email):
    request = RequestFactory().post(f"/sites/{site.slug}/signup/", {"email": email})
    request.resolver_match = mock.Mock(kwargs={"slug": site.slug})
    return request


def test_signup_limits_count_in_django_ratelimits_own_counters(site, settings):
    """Read back by the library: same keys, windows and counts (whichever cache is in use)."""
    from django_ratelimit.core import get_usage

    from selfsignup.ratelimits import SIGNUP_LIMITS, _over

    settings.RATELIMIT_SIGNUP_PER_IP = "7/m"
    for email in ["one@example.net", "two@example.net", "One+x@Example.net"]:
        assert _over(_signup_post(site, email), SIGNUP_LIMITS) is None
    by_address, by_ip = (
        get_usage(_signup_post(site, "one@example.net"), method="POST", **limit)
        for limit in SIGNUP_LIMITS
    )
    assert (by_ip["count"], by_ip["limit"]) == (3, 7)
    assert (by_address["count"], by_address["limit"]) == (2, 5)


def test_a_sign_up_refused_for_its_address_is_not_counted_for_the_client_address(
    client, site, settings
):
    """As with the library's stacked decorators: over the address limit, the request is refused
    before the per-client counter is touched (refused repeats don't use up an office's limit)."""
    from django_ratelimit.core import get_usage

    from selfsignup.ratelimits import signup_ip_rate

    settings.RATELIMIT_SIGNUP_PER_ADDRESS = "2/h"
    settings.RATELIMIT_SIGNUP_PER_IP = "100/h"
    statuses = [post_signup(client, site, email="same@example.net").status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert Submission.objects.count() == 2
    request = RequestFactory().post("/")
    by_ip = get_usage(request, group="signup-ip", key="ip", rate=signup_ip_rate, method="POST")
    assert by_ip["count"] == 2


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the Redis path of the sign-up limits")
def test_no_redis_client_is_kept_for_every_thread_that_signed_up(site):
    """Django makes a cache, and so a Redis client, per thread (runserver: per request):
    nothing may keep each of them alive. Each thread's own client is followed (a count of every
    client in the process also counted other tests' threads still running)."""
    import gc
    import threading
    import weakref

    from django_redis import get_redis_connection

    from selfsignup.ratelimits import SIGNUP_LIMITS, _over

    clients = []

    def sign_up(number):
        _over(_signup_post(site, f"t{number}@example.net"), SIGNUP_LIMITS)
        clients.append(weakref.ref(get_redis_connection("default")))

    for number in range(20):
        thread = threading.Thread(target=sign_up, args=(number,))
        thread.start()
        thread.join()
    gc.collect()
    assert len(clients) == 20
    assert [ref for ref in clients if ref() is not None] == []


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="counted in one round trip on Redis")
def test_signup_limits_cost_one_redis_command_and_their_keys_expire(site, settings):
    from django.core.cache import caches
    from django_redis import get_redis_connection

    from selfsignup.ratelimits import SIGNUP_LIMITS, _counter, _over

    settings.RATELIMIT_SIGNUP_PER_ADDRESS = "5/h"
    _over(_signup_post(site, "warm@example.net"), SIGNUP_LIMITS)  # loads the script once
    client = get_redis_connection("default")
    request = _signup_post(site, "cold@example.net")
    with mock.patch.object(client, "execute_command", wraps=client.execute_command) as sent:
        assert _over(request, SIGNUP_LIMITS) is None
    assert sent.call_count == 1
    for limit in SIGNUP_LIMITS:
        key, _limit, seconds, _window = _counter(request, caches["default"], **limit)
        assert 0 < client.ttl(key) <= seconds
    assert seconds == 3600 + 5


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the Redis path of the sign-up limits")
@pytest.mark.parametrize(("fail_open", "status"), [(True, 200), (False, 429)])
def test_signup_limits_follow_fail_open_when_redis_fails(client, site, settings, fail_open, status):
    from redis.exceptions import ConnectionError as RedisConnectionError

    settings.RATELIMIT_FAIL_OPEN = fail_open
    with mock.patch(
        "redis.commands.core.Script.__call__", side_effect=RedisConnectionError("down")
    ):
        assert post_signup(client, site, email="x@example.net").status_code == status


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1", "10.0.0.1"),  # no proxy trusted: the header is ignored
        (1, "203.0.113.9", "10.0.0.1", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "10.0.0.1", "203.0.113.9"),  # the client's own claim ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "10.0.0.1", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.1", "10.0.0.1"),  # fewer entries than proxies: don't guess
        (1, "not-an-ip", "10.0.0.1", "10.0.0.1"),
        (1, "2001:db8::1", "10.0.0.1", "2001:db8::1"),
        # IPv4 clients seen through IPv6 count as themselves, not as one /64 of IPv6.
        (0, "", "::ffff:203.0.113.9", "203.0.113.9"),
        (1, "::ffff:203.0.113.9", "10.0.0.1", "203.0.113.9"),
        (0, "", "", "0.0.0.0"),  # noqa: S104 (no address: one shared counter)
    ],
)
def test_client_address_behind_proxies(settings, proxies, forwarded, remote, expected):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_ip(request) == expected


def test_spoofed_forwarded_for_does_not_escape_the_limit(client, site, settings):
    settings.TRUSTED_PROXIES = 1
    settings.RATELIMIT_SIGNUP_PER_IP = "2/m"
    for spoof in ["1.1.1.1", "2.2.2.2", "3.3.3.3"]:
        answer = post_signup(
            client,
            site,
            email=f"{spoof}@example.net",
            HTTP_X_FORWARDED_FOR=f"{spoof}, 203.0.113.50",
        )
    assert answer.status_code == 429


# --- Bots -------------------------------------------------------------------------------------


def _bot_payloads(started_now: str) -> list[dict]:
    name = {"first_name": "B", "last_name": "O"}
    return [
        human({"email": "bot1@example.net", **name, "website": "http://spam.example"}),
        {"email": "bot2@example.net", **name},  # no start time
        {"email": "bot3@example.net", **name, "started": started_now},  # sent back at once
        {"email": "bot4@example.net", **name, "started": "forged:value"},
    ]


@pytest.mark.parametrize(
    ("min_fill_seconds", "processed"),
    [
        # By default only the honeypot counts: a fast or scripted fill is a sign-up.
        (0, ["bot2@example.net", "bot3@example.net", "bot4@example.net", "person@example.net"]),
        # With a minimum fill time, a form without a valid, old enough start time is a bot's.
        (2, ["person@example.net"]),
    ],
)
def test_bots_get_the_same_page_and_create_nothing(
    client, site, run_commits, settings, min_fill_seconds, processed
):
    settings.SIGNUP_MIN_FILL_SECONDS = min_fill_seconds
    person = post_signup(client, site, email="person@example.net")
    bodies = {CSRF.sub(b"", person.content)}
    started_now = client.get(f"/sites/{site.slug}/signup/").context["form"]["started"].value()
    with run_commits():
        for payload in _bot_payloads(started_now):
            answer = client.post(f"/sites/{site.slug}/signup/", payload)
            assert answer.status_code == 200
            bodies.add(CSRF.sub(b"", answer.content))
    assert len(bodies) == 1
    emails = list(Submission.objects.values_list("email", flat=True)) + list(
        SignupRequest.objects.values_list("email", flat=True)
    )
    assert sorted(emails) == processed


def test_a_start_time_hours_old_gets_the_form_again_with_a_new_one(
    client, site, run_commits, settings
):
    """One page's signed start time can't serve a script for ever: past 6 hours the form comes
    back with a new start time, which, like a new page's, must wait the minimum fill time."""
    from django.core import signing

    from signup.forms import STARTED_MAX_AGE, STARTED_SALT

    settings.SIGNUP_MIN_FILL_SECONDS = 5
    settings.RATELIMIT_SIGNUP_PER_IP = "100/h"
    old = signing.dumps(time.time() - STARTED_MAX_AGE - 60, salt=STARTED_SALT)
    data = {"email": "late@example.net", "first_name": "L", "last_name": "Ate", "started": old}
    url = f"/sites/{site.slug}/signup/"
    with run_commits():
        again = client.post(url, data)
    assert again.status_code == 200 and again.context["form"].has_error("__all__", "stale")
    assert "open for a long time" in again.content.decode()
    assert 'value="late@example.net"' in again.content.decode()
    fresh = again.context["form"]["started"].value()
    with run_commits():
        # Sent back at once, as a script would: like any page, nothing is made.
        assert client.post(url, {**data, "started": fresh}).status_code == 200
        assert Submission.objects.count() + SignupRequest.objects.count() == 0
        with mock.patch("signup.forms.time.time", return_value=time.time() + 6):
            client.post(url, {**data, "started": fresh})
    assert Submission.objects.count() + SignupRequest.objects.count() == 1


def test_honeypot_is_hidden_from_people_and_never_echoed(client, site):
    page = client.get(f"/sites/{site.slug}/signup/").content.decode()
    assert '<div class="hp" hidden><input type="text" name="website"' in page
    assert 'tabindex="-1"' in page
    # People see exactly the site's fields: the trap has no label.
    assert "Leave this field empty" not in page
    assert re.findall(r"<label for=\"id_(\w+)\">", page) == ["email", "first_name", "last_name"]
    again = client.post(
        f"/sites/{site.slug}/signup/", human({"email": "bad", "website": "filled-by-bot"})
    ).content.decode()
    assert "filled-by-bot" not in again


# --- No enumeration ---------------------------------------------------------------------------


def test_no_enumeration_same_answer_same_work(client, site, other_org, full_admin, run_commits):
    """OWASP ASVS 6.3.8: new, duplicate, existing host, auto-rejected, other organization."""
    from sites.services import SettingsValues, site_settings_update

    site_settings_update(
        site_id=site.pk,
        acting_user=None,
        values=SettingsValues(
            signup_enabled=True,
            reject_entries=["spam.example"],
            required_fields=["first_name", "last_name"],
        ),
    )
    host = factories.PersonFactory(organization=site.organization, email="host@example.net")
    factories.HostLicenseFactory(person=host, site=site)
    factories.PersonFactory(organization=other_org, email="taken@globex.example")
    with run_commits():
        post_signup(client, site, email="dup@example.net")
    cases = [
        "new@example.net",
        "dup@example.net",
        "host@example.net",
        "bot@spam.example",
        "taken@globex.example",
    ]
    answers, queries = [], []
    for email in cases:
        with CaptureQueriesContext(connection) as captured:
            answers.append(post_signup(client, site, email=email))
        queries.append(len(captured.captured_queries))
    assert {a.status_code for a in answers} == {200}
    assert len({CSRF.sub(b"", a.content) for a in answers}) == 1
    assert len({headers_but_request_id(a) for a in answers}) == 1
    assert len(set(queries)) == 1, queries  # the request does the same work for each


# --- Headers, settings ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sites/{slug}/", "/sites/{slug}/signup/", "/hub/login/"])
def test_security_headers(client, site, path):
    response = client.get(path.format(slug=site.slug))
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_or_style(client, site, full_admin):
    req = factories.SignupRequestFactory(site=site)
    pages = [f"/sites/{site.slug}/", f"/sites/{site.slug}/signup/", "/hub/login/"]
    client.force_login(full_admin)
    pages += [
        "/hub/",
        f"/hub/meetings/sites/{site.slug}/settings/",
        "/hub/alerts/requests/",
        f"/hub/alerts/requests/{req.pk}/",
        "/hub/people/",
        "/hub/alerts/audit/",
    ]
    for path in pages:
        html = client.get(path).content.decode()
        assert " style=" not in html, path
        assert "<script" not in html, path
        assert not re.search(r" on[a-z]+=", html), path


PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(60),
    "DEBUG": "0",
    "ALLOWED_HOSTS": "meetings.example.com",
    "SITE_URL": "https://meetings.example.com",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp://127.0.0.1:25",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in PRODUCTION and not k.startswith("PYTEST")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=django_settings.BASE_DIR,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("redirect", [{}, {"SECURE_SSL_REDIRECT": "0"}])
def test_deploy_check_is_clean_with_production_settings(redirect):
    """Also with the redirect to HTTPS left to the proxy, as the README says it may be."""
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION | redirect)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "ture"),
        ("SECURE_SSL_REDIRECT", "ture"),
        ("RATELIMIT_SIGNUP_PER_IP", "600 per hour"),
        ("RATELIMIT_SIGNIN_PER_ACCOUNT", "lots"),
        ("RATELIMIT_SIGNUP_PER_IP", "5/0m"),  # a window of no time: a division by zero
        ("REDIS_URL", "127.0.0.1:6379"),
        ("REDIS_URL", "unix:///tmp/redis.sock"),  # also Celery's broker, which has no unix://
        ("EMAIL_TIMEOUT", "0"),  # every SMTP connection would time out at once
        ("OUTBOX_MAX_ATTEMPTS", "0"),
        ("SIGNUP_MIN_FILL_SECONDS", "-3"),
        ("SIGNUP_MIN_FILL_SECONDS", "2m"),  # read loosely, two seconds rather than 120
        ("SWEEP_INTERVAL_SECONDS", "0"),  # beat would send sweeps in a tight loop
        ("SWEEP_INTERVAL_SECONDS", "1,000"),  # read loosely, one second
        ("SWEEP_INTERVAL_SECONDS", "nan"),
        ("CONN_MAX_AGE", "abc"),
        ("EMAIL_TIMEOUT", "1.5"),
        ("LOG_FORMAT", "text"),
        ("LOG_LEVEL", "verbose"),
        ("ALLOWED_HOSTS", ""),
        ("SITE_URL", ""),  # every emailed link would lead to 127.0.0.1
        ("SITE_URL", "meetings.example.com"),  # links with no scheme go nowhere
    ],
)
def test_a_malformed_setting_refuses_to_start(name, value):
    """Read quietly, each of these would turn a protection off, answer every sign-up or sign-in
    with a 500, or leave every page 400 behind a health check saying all is well."""
    result = run_manage("check", env=PRODUCTION | {name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


def test_settings_read_as_people_write_them():
    env = PRODUCTION | {
        "LOG_LEVEL": "warn",  # as logging reads it
        "LOG_FORMAT": "JSON",
        "SWEEP_INTERVAL_SECONDS": "30.5",
        "SIGNUP_MIN_FILL_SECONDS": " 2 ",
    }
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.LOG_LEVEL, s.LOG_FORMAT, "
        "s.SWEEP_INTERVAL_SECONDS, s.SIGNUP_MIN_FILL_SECONDS)",
        env=env,
    )
    assert result.stdout.split()[-4:] == ["WARN", "json", "30.5", "2.0"], result.stderr


def test_production_refuses_to_start_without_the_base_of_its_links():
    result = run_manage("check", env={k: v for k, v in PRODUCTION.items() if k != "SITE_URL"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SITE_URL" in result.stderr


@pytest.mark.parametrize("key", ["", "short", "django-insecure-" + "x" * 60, "a" * 60])
def test_production_refuses_a_weak_secret_key(key):
    result = run_manage("check", env=PRODUCTION | {"SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_cookies_and_hsts():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.DEBUG, s.SESSION_COOKIE_HTTPONLY)",
        env=PRODUCTION,
    )
    assert result.stdout.split()[-5:] == ["True", "True", "31536000", "False", "True"]


# --- Sessions and tokens ----------------------------------------------------------------------


def test_hub_sessions_expire(client, full_admin):
    client.post("/hub/login/", {"username": full_admin.email, "password": factories.PASSWORD})
    assert client.get("/hub/").status_code == 200
    session = Session.objects.get()
    assert session.expire_date <= timezone.now() + timedelta(
        seconds=django_settings.SESSION_COOKIE_AGE + 5
    )
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/hub/").status_code == 302


def test_tokens_are_bound_to_their_object_and_purpose():
    confirm = tokens.confirmation_token(request_id=7, nonce="n" * 32)
    with pytest.raises(tokens.BadToken):
        tokens.read_activation_token(confirm)  # another purpose (salt)
    assert tokens.read_confirmation_token(confirm) == (7, "n" * 32)
    tampered = confirm.replace(
        confirm.split(":")[0], tokens.signing.dumps({"r": 8, "n": "x"}, salt="other")[:10]
    )
    with pytest.raises(tokens.BadToken):
        tokens.read_confirmation_token(tampered)


def test_nonces_are_compared_in_constant_time():
    with mock.patch("signup.tokens.constant_time_compare", return_value=True) as compare:
        assert tokens.nonce_matches("a" * 32, "b" * 32)
    compare.assert_called_once_with("a" * 32, "b" * 32)
    assert not tokens.nonce_matches("", "")  # an unset nonce never matches


@pytest.mark.parametrize("change", [{"sso_enabled": True}, {"kind": "government"}])
def test_an_activation_link_sets_no_password_once_the_site_is_sso_or_government(
    client, site, change
):
    from orgs.models import Person
    from sites.models import Site

    person = factories.PersonFactory(organization=site.organization, activation_nonce="n" * 32)
    factories.HostLicenseFactory(person=person, site=site)
    token = tokens.activation_token(person_id=person.pk, site_id=site.pk, nonce="n" * 32)
    Site.objects.filter(pk=site.pk).update(signup_enabled=False, **change)
    path = f"/sites/{site.slug}/activate/{token}/"
    answer = client.post(
        path, {"password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"}
    )
    assert answer.status_code == 400
    assert Person.objects.get(pk=person.pk).user_id is None


def test_sign_in_tries_in_flight_at_once_cannot_pass_the_limit(settings, db):
    """Tries sent together all arrive before any has failed: each is counted before its
    password is checked, so no more than the limit are ever checked."""
    from django.http import HttpResponse

    from selfsignup.ratelimits import limit_signins

    settings.RATELIMIT_SIGNIN_PER_ACCOUNT = "3/15m"
    settings.RATELIMIT_SIGNIN_PER_IP = "100/5m"
    factory, checked = RequestFactory(), []

    def guess() -> int:
        request = factory.post("/x/", {"username": "parallel@example.net", "password": "no"})
        try:
            return view(request).status_code
        except Exception as exc:  # Ratelimited: the middleware answers 429
            return type(exc).__name__

    @limit_signins
    def view(request):
        checked.append(1)
        if len(checked) < 6:
            guess()  # another try arrives while this one's password is being checked
        return HttpResponse("the form again", status=200)

    guess()
    assert len(checked) == 3


@pytest.mark.parametrize("path", ["/hub/login/", "/sites/{slug}/signin/"])
def test_a_failed_sign_in_says_the_same_everywhere(client, site, full_admin, path):
    """The address is normalized (not case-sensitive); only the password is."""
    answer = client.post(path.format(slug=site.slug), {"username": "x@y.example", "password": "n"})
    html = answer.content.decode()
    assert "Enter a correct email address and password (the password is case-sensitive)." in html
