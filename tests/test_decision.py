"""The decision engine of SPEC section 4: normalization, matching, precedence, cost."""

import pytest

from sites.decision import APPROVED, PENDING, REJECTED, decide
from sites.domains import InvalidDomain, normalize_domain, normalize_email, parse_pattern
from sites.models import DomainPattern, Site
from sites.services import SettingsInvalid, SettingsValues, site_settings_update
from tests import factories

APPROVE = ["acme.com", "*.acme.com", "*.eng.acme.com", "bücher.example", "partner.org"]
REJECT = ["spam.acme.com", "*.labs.eng.acme.com", "evil.io", "*.evil.io", "*.xn--bcher-kva.example"]

# (email, review-mode outcome, matching pattern or "")
CASES = [
    ("bob@acme.com", APPROVED, "acme.com"),
    ("Bob@ACME.com", APPROVED, "acme.com"),
    ("bob@acme.com.", APPROVED, "acme.com"),
    ("BOB@Acme.Com.", APPROVED, "acme.com"),
    # The full stops IDNA reads as dots are dots, trailing ones included.
    ("bob@acme.com\u3002", APPROVED, "acme.com"),
    ("bob@acme\uff0ecom", APPROVED, "acme.com"),
    ("bob@spam.acme.com\uff61", REJECTED, "spam.acme.com"),
    ("  bob@acme.com  ", APPROVED, "acme.com"),
    ("bob@sales.acme.com", APPROVED, "*.acme.com"),
    ("bob@a.b.c.acme.com", APPROVED, "*.acme.com"),
    ("bob@SALES.ACME.COM", APPROVED, "*.acme.com"),
    ("bob@spam.acme.com", REJECTED, "spam.acme.com"),  # exact beats wildcard
    ("bob@x.spam.acme.com", APPROVED, "*.acme.com"),  # exact spam.acme.com does not cover subs
    ("bob@eng.acme.com", APPROVED, "*.acme.com"),  # *.eng.acme.com does not cover eng.acme.com
    ("bob@dev.eng.acme.com", APPROVED, "*.eng.acme.com"),  # longest wildcard wins
    ("bob@labs.eng.acme.com", APPROVED, "*.eng.acme.com"),
    ("bob@x.labs.eng.acme.com", REJECTED, "*.labs.eng.acme.com"),
    ("bob@y.x.labs.eng.acme.com", REJECTED, "*.labs.eng.acme.com"),
    ("bob@evilacme.com", PENDING, ""),  # whole labels only
    ("bob@acme.com.evil.io", REJECTED, "*.evil.io"),
    ("bob@acme.com.example", PENDING, ""),
    ("bob@notacme.com", PENDING, ""),
    ("bob@acme.co", PENDING, ""),
    ("bob@cme.com", PENDING, ""),
    ("bob@evil.io", REJECTED, "evil.io"),  # exact evil.io beats *.evil.io... both reject
    ("bob@www.evil.io", REJECTED, "*.evil.io"),
    ("bob@EVIL.IO.", REJECTED, "evil.io"),
    ("anna@bücher.example", APPROVED, "xn--bcher-kva.example"),
    ("anna@BÜCHER.example", APPROVED, "xn--bcher-kva.example"),
    ("anna@xn--bcher-kva.example", APPROVED, "xn--bcher-kva.example"),
    ("anna@XN--BCHER-KVA.EXAMPLE", APPROVED, "xn--bcher-kva.example"),
    ("anna@shop.bücher.example", REJECTED, "*.xn--bcher-kva.example"),
    ("anna@shop.xn--bcher-kva.example", REJECTED, "*.xn--bcher-kva.example"),
    ("anna@bucher.example", PENDING, ""),
    ("p@partner.org", APPROVED, "partner.org"),
    ("p@eu.partner.org", PENDING, ""),  # no wildcard for partner.org
    ("p@partner.org.uk", PENDING, ""),
    ("p@org", PENDING, ""),
    ("first.last+tag@acme.com", APPROVED, "acme.com"),
    ('"odd@local"@acme.com', APPROVED, "acme.com"),  # split at the last @
    ("someone@gmail.com", PENDING, ""),
    ("someone@com.acme", PENDING, ""),
    ("someone@acme.com.acme.com", APPROVED, "*.acme.com"),
    ("someone@xn--e1afmkfd.com", PENDING, ""),
]


@pytest.fixture
def rules_site(db):
    site = factories.SiteFactory()
    values = SettingsValues(
        signup_enabled=True, approve_entries=APPROVE, reject_entries=REJECT, mode="review"
    )
    site_settings_update(site_id=site.pk, acting_user=None, values=values)
    site.refresh_from_db()
    return site


@pytest.mark.parametrize(("email", "outcome", "pattern"), CASES)
def test_review_mode_decision(rules_site, email, outcome, pattern):
    decision = decide(site=rules_site, normalized_email=normalize_email(email))
    assert (decision.outcome, decision.pattern) == (outcome, pattern)
    assert decision.basis == ("pattern" if pattern else "mode")


@pytest.mark.parametrize(("other", "expected"), [("approve", APPROVED), ("reject", REJECTED)])
def test_automatic_mode_decides_other_domains(rules_site, other, expected):
    Site.objects.filter(pk=rules_site.pk).update(mode="automatic", other_domains=other)
    rules_site.refresh_from_db()
    unmatched = decide(site=rules_site, normalized_email="x@elsewhere.net")
    assert (unmatched.outcome, unmatched.basis, unmatched.pattern) == (expected, "mode", "")
    # A matching pattern still wins over the mode.
    assert decide(site=rules_site, normalized_email="x@evil.io").outcome == REJECTED
    assert decide(site=rules_site, normalized_email="x@acme.com").outcome == APPROVED


def test_decision_reason_names_the_pattern_in_unicode(rules_site):
    decision = decide(site=rules_site, normalized_email=normalize_email("a@bücher.example"))
    assert "bücher.example" in decision.reason


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Ann@Acme.com", "ann@acme.com"),
        # Quotes are not part of an address: those that change nothing are dropped.
        ('"ann"@acme.com', "ann@acme.com"),
        ('"Ann.Lee"@ACME.com.', "ann.lee@acme.com"),
        ('"a\\nn"@acme.com', "ann@acme.com"),
        ('"o\'hara+x"@acme.com', "o'hara+x@acme.com"),
        # A local part that needs them keeps them, with only the backslashes it needs.
        ('"Ann Lee"@acme.com', '"ann lee"@acme.com'),
        ('"a\\ b"@acme.com', '"a b"@acme.com'),
        ('"a\\"b"@acme.com', '"a\\"b"@acme.com'),
        ('"a..b"@acme.com', '"a..b"@acme.com'),
        ('".ann"@acme.com', '".ann"@acme.com'),
    ],
)
def test_email_normalization(raw, normalized):
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("ACME.com", "acme.com"),
        ("acme.com.", "acme.com"),
        ("  acme.com ", "acme.com"),
        ("Bücher.Example.", "xn--bcher-kva.example"),
        ("*.Bücher.example", "*.xn--bcher-kva.example"),
        ("*.ACME.COM.", "*.acme.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("acme.com\u3002", "acme.com"),
        ("*.acme\uff0ecom\uff61", "*.acme.com"),
    ],
)
def test_pattern_normalization(raw, normalized):
    assert parse_pattern(raw).text == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "com",
        "*.com",
        "COM.",
        "*",
        "*.",
        "acme.*",
        "a*.acme.com",
        "**.acme.com",
        "acme..com",
        "acme.com..",
        "acme.com\u3002\u3002",
        "acme.com\ufe52",
        "-acme.com",
        "acme-.com",
        "ac me.com",
        "bob@acme.com",
        "acme_corp.com",
        "1.2.3.4",
        "a" * 64 + ".com",
        ".".join(["a"] * 200),
        "x" * 5000,
    ],
)
def test_invalid_patterns_are_refused(raw):
    with pytest.raises(InvalidDomain):
        parse_pattern(raw)


def test_domain_with_thousands_of_labels_is_refused_quickly():
    with pytest.raises(InvalidDomain):
        normalize_domain("a." * 50_000 + "com")


def test_pattern_on_both_lists_is_refused_and_nothing_saved(db):
    site = factories.SiteFactory()
    values = SettingsValues(
        signup_enabled=True,
        approve_entries=["acme.com", "ok.example"],
        reject_entries=["ACME.com."],
    )
    with pytest.raises(SettingsInvalid) as caught:
        site_settings_update(site_id=site.pk, acting_user=None, values=values)
    assert "acme.com" in " ".join(caught.value.errors["reject_entries"])
    assert not DomainPattern.objects.filter(site=site).exists()


def test_malformed_entry_is_named_and_nothing_saved(db):
    site = factories.SiteFactory()
    values = SettingsValues(approve_entries=["good.example", "not a domain", "*.com"])
    with pytest.raises(SettingsInvalid) as caught:
        site_settings_update(site_id=site.pk, acting_user=None, values=values)
    messages = " ".join(caught.value.errors["approve_entries"])
    assert "not a domain" in messages and "*.com" in messages
    assert "good.example" not in messages
    assert not DomainPattern.objects.filter(site=site).exists()


def _site_with_patterns(count: int) -> Site:
    site = factories.SiteFactory()
    DomainPattern.objects.bulk_create(
        DomainPattern(
            site=site,
            pattern=f"*.d{i}.example" if i % 2 else f"d{i}.example",
            suffix=f"d{i}.example",
            wildcard=bool(i % 2),
            action="approve" if i % 3 else "reject",
        )
        for i in range(count)
    )
    return site


def test_lookup_costs_the_same_queries_for_10_and_10000_patterns(db, django_assert_num_queries):
    small, large = _site_with_patterns(10), _site_with_patterns(10_000)
    for site in (small, large):
        with django_assert_num_queries(1):
            assert decide(site=site, normalized_email="x@a.b.d7.example").outcome == APPROVED
        with django_assert_num_queries(1):
            assert decide(site=site, normalized_email="x@nowhere.example").outcome == PENDING
