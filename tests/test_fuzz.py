"""Property-based fuzzing of the public sign-up form and the settings form (hypothesis).

The default run tries a few hundred inputs; `-m fuzz` (CI: `make fuzz`) runs the big counts:
10,000 sign-ups and 2,000 settings submissions. No input may cause a 5xx, and validating any
input must take under 100 ms (no pathological regular expressions or IDNA work).
"""

import time

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signup.forms import SignupForm
from sites.forms import SiteSettingsForm
from sites.models import REQUIRABLE_FIELD_KEYS, SUBMITTED_FIELD_LABELS, Site
from tests import factories
from tests.helpers import human

VALIDATION_BUDGET = 0.1  # seconds, per input

CONTROL = st.sampled_from(["\r\n", "\n", "\r", "\x00", "\x0b", "\u2028", "\x1b[31m", "\t"])
# Modest sizes in choices (hypothesis replays what it draws); the very long inputs repeat one
# character many times, which costs one choice.
WEIRD = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=120)
LONG = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["a", "é", "漢", ".", "@", "<"]),
    st.integers(min_value=200, max_value=20_000),
)
VALUES = st.one_of(
    WEIRD,
    LONG,
    st.builds(lambda a, c, b: a + c + b, WEIRD, CONTROL, WEIRD),
    st.just(""),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>',
            "javascript:alert(1)",
            "{{7*7}}",
            "%(name)s",
            "' OR 1=1 --",
        ]
    ),
)
LABELS = st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True)
DOMAINS = st.one_of(
    st.builds(".".join, st.lists(LABELS, min_size=1, max_size=5)),
    st.builds(lambda n: "a." * n + "com", st.integers(min_value=100, max_value=50_000)),
    st.builds(lambda d: d + "." * 3, st.builds(".".join, st.lists(LABELS, min_size=2))),
    WEIRD,
)
EMAILS = st.one_of(
    st.emails(),
    st.builds(lambda local, domain: f"{local}@{domain}", WEIRD, DOMAINS),
    st.builds(lambda a, c, b: a + c + b, st.emails(), CONTROL, st.emails()),
    VALUES,
)
SIGNUP_FIELDS = list(SUBMITTED_FIELD_LABELS)
SIGNUP_DATA = st.fixed_dictionaries(
    {"email": EMAILS},
    optional={
        name: st.one_of(VALUES, st.sampled_from(["FR", "Europe/Paris", "fr", "+33 1"]))
        for name in [*SIGNUP_FIELDS, "website", "started"]
    },
)
PATTERN_TEXT = st.one_of(
    st.builds(
        "\n".join, st.lists(st.one_of(DOMAINS, st.builds("*.{}".format, DOMAINS)), max_size=15)
    ),
    st.builds(",".join, st.lists(DOMAINS, max_size=15)),
    VALUES,
)
SETTINGS_DATA = st.fixed_dictionaries(
    {
        "approve_entries": PATTERN_TEXT,
        "reject_entries": PATTERN_TEXT,
        "notify_addresses": st.one_of(st.builds("\n".join, st.lists(EMAILS, max_size=32)), VALUES),
    },
    optional={
        "signup_enabled": st.sampled_from(["on", "", "off", "1", "\x00"]),
        "mode": st.one_of(st.sampled_from(["automatic", "review"]), VALUES),
        "other_domains": st.one_of(st.sampled_from(["approve", "reject"]), VALUES),
        "notify": st.one_of(st.sampled_from(["full_admins", "site_admins", "addresses"]), VALUES),
        "require_confirmation": st.sampled_from(["on", ""]),
        "required_fields": st.lists(
            st.one_of(st.sampled_from(REQUIRABLE_FIELD_KEYS), VALUES), max_size=10
        ),
    },
)
HYPOTHESIS = {
    "deadline": None,
    "database": None,
    "derandomize": False,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}


@pytest.fixture
def fuzz_site(db, settings):
    settings.RATELIMIT_ENABLE = False  # the limits are tested elsewhere; here, the validation
    site = factories.SiteFactory(slug="fuzz", required_fields=list(REQUIRABLE_FIELD_KEYS))
    return site


def timed(validate) -> float:
    """Validation time of an input: the best of three tries when the first is over budget, so
    that a pause of this shared machine is not taken for a slow input (which is slow each time)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        validate()
        best = min(best, time.perf_counter() - started)
        if best < VALIDATION_BUDGET:
            break
    return best


def check_signup(site: Site, client: Client, data: dict, as_person: bool) -> None:
    payload = human(data) if as_person else data
    took = timed(lambda: SignupForm(payload, site=site).is_valid())
    assert took < VALIDATION_BUDGET, (took, data)
    response = client.post("/sites/fuzz/signup/", payload)
    assert response.status_code == 200, data


def check_settings(site: Site, client: Client, data: dict) -> None:
    took = timed(lambda: SiteSettingsForm(data, site=site).is_valid())
    assert took < VALIDATION_BUDGET, (
        took,
        {k: v[:80] for k, v in data.items() if isinstance(v, str)},
    )
    response = client.post(f"/hub/meetings/sites/{site.slug}/settings/", data)
    assert response.status_code in (200, 302), data


def run_signup_fuzz(site: Site, examples: int) -> int:
    client, tried = Client(), [0]
    # Load once what each process loads on first use (country and time zone lists, IDNA
    # tables, compiled validators), so that timings measure the input, not the warm-up.
    for email in ["a@bücher.example", "x@example.com\r", "not an address"]:
        SignupForm(
            human({"email": email, "country": "FR", "time_zone": "UTC"}), site=site
        ).is_valid()

    @settings(max_examples=examples, **HYPOTHESIS)
    @given(data=SIGNUP_DATA, as_person=st.booleans())
    def fuzz(data, as_person):
        tried[0] += 1
        check_signup(site, client, data, as_person)

    fuzz()
    return tried[0]


def run_settings_fuzz(site: Site, admin, examples: int) -> int:
    client, tried = Client(), [0]
    SiteSettingsForm({}, site=site).is_valid()
    client.force_login(admin)

    @settings(max_examples=examples, **HYPOTHESIS)
    @given(data=SETTINGS_DATA)
    def fuzz(data):
        tried[0] += 1
        check_settings(site, client, data)

    fuzz()
    return tried[0]


def test_signup_form_survives_fuzzing(fuzz_site):
    assert run_signup_fuzz(fuzz_site, 300) >= 300


def test_settings_form_survives_fuzzing(fuzz_site, full_admin):
    Site.objects.filter(pk=fuzz_site.pk).update(organization=full_admin.administrator.organization)
    fuzz_site.refresh_from_db()
    assert run_settings_fuzz(fuzz_site, full_admin, 100) >= 100


@pytest.mark.fuzz
@pytest.mark.timeout(1800)
def test_signup_form_survives_10000_inputs(fuzz_site, capsys):
    tried = run_signup_fuzz(fuzz_site, 10_000)
    with capsys.disabled():
        print(f"\nsign-up form: {tried} generated submissions, no 5xx, each validated < 100 ms")
    assert tried >= 10_000


@pytest.mark.fuzz
@pytest.mark.timeout(1800)
def test_settings_form_survives_2000_inputs(fuzz_site, full_admin, capsys):
    Site.objects.filter(pk=fuzz_site.pk).update(organization=full_admin.administrator.organization)
    fuzz_site.refresh_from_db()
    tried = run_settings_fuzz(fuzz_site, full_admin, 2_000)
    with capsys.disabled():
        print(f"\nsettings form: {tried} generated submissions, no 5xx, each validated < 100 ms")
    assert tried >= 2_000
