"""Meetings sites, their Account Management settings and their domain patterns."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sites.domains import Pattern, display_domain

# The fields a site may require on its sign-up form, in the order the form shows them.
# `address` stands for street, city, state or province, postal code and country.
REQUIRABLE_FIELDS: list[tuple[str, str]] = [
    ("first_name", _("First name")),
    ("last_name", _("Last name")),
    ("phone", _("Phone number")),
    ("company", _("Company")),
    ("job_title", _("Job title")),
    ("address", _("Address")),
    ("time_zone", _("Time zone")),
    ("language", _("Preferred language")),
]
REQUIRABLE_FIELD_KEYS = [key for key, _label in REQUIRABLE_FIELDS]
# Labels of the submitted fields, in the order the form asks for them.
SUBMITTED_FIELD_LABELS: dict[str, str] = {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "phone": _("Phone number"),
    "company": _("Company"),
    "job_title": _("Job title"),
    "street": _("Street"),
    "city": _("City"),
    "state": _("State or province"),
    "postal_code": _("Postal code"),
    "country": _("Country"),
    "time_zone": _("Time zone"),
    "preferred_language": _("Preferred language"),
}
DEFAULT_REQUIRED_FIELDS = ["first_name", "last_name"]
MAX_NOTIFY_ADDRESSES = 30
# Matching costs the same with 10 patterns or 10,000 (SPEC section 4); a list holds that many.
MAX_PATTERNS_A_LIST = 10_000


def default_required_fields() -> list[str]:
    return list(DEFAULT_REQUIRED_FIELDS)


class Site(models.Model):
    """A Meetings site; its Account Management settings live on the same row, so the database
    itself refuses sign-up on a government or SSO site."""

    class Kind(models.TextChoices):
        COMMERCIAL = "commercial", _("Commercial")
        GOVERNMENT = "government", _("Government")

    class Mode(models.TextChoices):
        AUTOMATIC = "automatic", _("Automatically approve or reject host account requests")
        REVIEW = "review", _("Review host account requests")

    class OtherDomains(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")

    class Notify(models.TextChoices):
        FULL_ADMINS = "full_admins", _("All full administrators")
        SITE_ADMINS = "site_admins", _("Administrators of this site")
        ADDRESSES = "addresses", _("These email addresses")

    organization = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="sites"
    )
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=63, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.COMMERCIAL)
    sso_enabled = models.BooleanField(_("signs people in through SSO"), default=False)

    # Account Management settings (SPEC section 3).
    signup_enabled = models.BooleanField(_("Allow host account sign-up"), default=False)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.REVIEW)
    other_domains = models.CharField(
        _("Requests from other domains"),
        max_length=8,
        choices=OtherDomains.choices,
        default=OtherDomains.APPROVE,
    )
    notify = models.CharField(
        _("Send review notification email to"),
        max_length=16,
        choices=Notify.choices,
        default=Notify.FULL_ADMINS,
    )
    notify_addresses = models.JSONField(default=list, blank=True)
    require_confirmation = models.BooleanField(
        _("Require email confirmation before review"), default=True
    )
    required_fields = models.JSONField(
        _("Require for account creation"), default=default_required_fields, blank=True
    )
    settings_updated_at = models.DateTimeField(null=True, blank=True)
    settings_updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An administrator asked for the pending requests to be decided by the saved rules; cleared
    # once a run has done it (a sweep publishes the run again if it was lost with the broker).
    rules_apply_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(signup_enabled=False)
                | models.Q(kind="commercial", sso_enabled=False),
                name="sites_signup_only_commercial_without_sso",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["commercial", "government"]),
                name="sites_site_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(mode__in=["automatic", "review"]), name="sites_site_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(other_domains__in=["approve", "reject"]),
                name="sites_site_other_domains_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(notify__in=["full_admins", "site_admins", "addresses"]),
                name="sites_site_notify_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def signup_supported(self) -> bool:
        """Government and SSO sites never support self-sign-up."""
        return self.kind == self.Kind.COMMERCIAL and not self.sso_enabled

    @property
    def signup_allowed(self) -> bool:
        return self.signup_enabled and self.signup_supported

    @property
    def unsupported_reason(self) -> str:
        if self.kind == self.Kind.GOVERNMENT:
            return str(_("Webex for Government sites don't support host account self-sign-up."))
        if self.sso_enabled:
            return str(
                _("This site signs people in through SSO, so it can't allow host account sign-up.")
            )
        return ""


class DomainPatternQuerySet(models.QuerySet["DomainPattern"]):
    def approving(self) -> "DomainPatternQuerySet":
        return self.filter(action=DomainPattern.Action.APPROVE)

    def rejecting(self) -> "DomainPatternQuerySet":
        return self.filter(action=DomainPattern.Action.REJECT)


class DomainPattern(models.Model):
    """One entry of a site's lists of domains to approve or reject automatically."""

    class Action(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="patterns")
    pattern = models.CharField(max_length=255)
    suffix = models.CharField(max_length=253)
    wildcard = models.BooleanField(default=False)
    action = models.CharField(max_length=8, choices=Action.choices)
    created_at = models.DateTimeField(default=timezone.now)

    objects = DomainPatternQuerySet.as_manager()

    class Meta:
        ordering = ["pattern"]
        verbose_name = _("domain pattern")
        verbose_name_plural = _("domain patterns")
        constraints = [
            # A pattern is on one list at most: the same text can't both approve and reject.
            models.UniqueConstraint(fields=["site", "pattern"], name="sites_pattern_once_per_site"),
            models.CheckConstraint(
                condition=models.Q(action__in=["approve", "reject"]),
                name="sites_pattern_action_valid",
            ),
        ]
        indexes = [models.Index(fields=["site", "suffix"], name="sites_pattern_lookup")]

    def __str__(self) -> str:
        return f"{self.display} ({self.get_action_display()})"

    @property
    def display(self) -> str:
        return display_domain(self.pattern)

    def as_pattern(self) -> Pattern:
        return Pattern(suffix=self.suffix, wildcard=self.wildcard)
