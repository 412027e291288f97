"""Sign-up submissions (the intake) and host account requests."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from sites.domains import display_email


def language_name(code: str) -> str:
    """A language by its own name ("Français"), or the code when Django doesn't know it."""
    try:
        return capfirst(get_language_info(code)["name_local"])
    except KeyError:
        return code


class SubmissionQuerySet(models.QuerySet["Submission"]):
    def due(self, now: datetime | None = None) -> "SubmissionQuerySet":
        """Waiting to be processed: never tried, or failed and due for another try."""
        now = now or timezone.now()
        return self.filter(models.Q(not_before__isnull=True) | models.Q(not_before__lte=now))


class Submission(models.Model):
    """A valid sign-up form, as received. The web request writes only this row, the same way
    for every address; a task turns it into a request (or an email) and deletes it."""

    site = models.ForeignKey("sites.Site", on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    fields = models.JSONField(default=dict)
    # The fields the form required (the site's settings may change before it is processed).
    required_fields = models.JSONField(null=True, blank=True)
    language = models.CharField(max_length=8, default="en")
    # The id of the web request that sent it: the intake's log lines and tasks carry it on.
    request_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # Set only when processing failed: how often, and when it may be tried again.
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True)

    objects = SubmissionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.email} @ {self.site_id}"


class SignupRequestQuerySet(models.QuerySet["SignupRequest"]):
    def open(self) -> "SignupRequestQuerySet":
        return self.filter(status__in=SignupRequest.OPEN_STATUSES)

    def pending(self) -> "SignupRequestQuerySet":
        return self.filter(status=SignupRequest.Status.PENDING)

    def unconfirmed(self) -> "SignupRequestQuerySet":
        return self.filter(status=SignupRequest.Status.UNCONFIRMED)

    def for_organization(self, organization_id: int) -> "SignupRequestQuerySet":
        return self.filter(organization_id=organization_id)


class SignupRequest(models.Model):
    """A request for a host account on a site."""

    class Status(models.TextChoices):
        UNCONFIRMED = "unconfirmed", _("Unconfirmed")
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class Basis(models.TextChoices):
        PATTERN = "pattern", _("Domain rule")
        MODE = "mode", _("Site mode")
        HELD = "held", _("Held for an administrator")
        ADMINISTRATOR = "administrator", _("Administrator")

    OPEN_STATUSES = (Status.UNCONFIRMED, Status.PENDING)
    DECIDED_STATUSES = (Status.APPROVED, Status.REJECTED)

    # No index of its own: the queue's indexes lead with it (and serve the foreign key). One on
    # the organization alone looked cheap to the planner for a search, which then read all of
    # the organization's requests instead of its search index's matches.
    organization = models.ForeignKey(
        "orgs.Organization",
        on_delete=models.CASCADE,
        related_name="signup_requests",
        db_index=False,
    )
    site = models.ForeignKey("sites.Site", on_delete=models.CASCADE, related_name="requests")
    email = models.CharField(_("email"), max_length=254)
    email_normalized = models.CharField(max_length=254)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    fields = models.JSONField(_("submitted fields"), default=dict, blank=True)
    required_fields = models.JSONField(_("required fields"), default=list, blank=True)
    language = models.CharField(_("language"), max_length=8, default="en")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)

    decision_basis = models.CharField(max_length=16, choices=Basis.choices, blank=True)
    decision_pattern = models.CharField(max_length=255, blank=True)
    # Protected: the record of who decided outlives the account (deactivate it instead), and
    # an administrator's decision without its decider breaks the constraint below.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason"), blank=True, max_length=1000)
    person = models.ForeignKey(
        "orgs.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )

    confirmation_nonce = models.CharField(max_length=32, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SignupRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("host account request")
        verbose_name_plural = _("host account requests")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "email_normalized"],
                condition=models.Q(status__in=["unconfirmed", "pending"]),
                name="signup_one_open_request_per_site_email",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["unconfirmed", "pending"], decided_at__isnull=True)
                | models.Q(status__in=["approved", "rejected"], decided_at__isnull=False),
                name="signup_request_decided_iff_closed",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["approved", "rejected"])
                | models.Q(decision_basis__in=["pattern", "mode"])
                | models.Q(decision_basis="administrator", decided_by__isnull=False),
                name="signup_request_decision_has_decider",
            ),
        ]
        indexes = [
            # The queue: an organization's requests, by status, newest first (keyset cursor).
            models.Index(
                fields=["organization", "status", "-created_at", "-id"], name="signup_queue_status"
            ),
            models.Index(fields=["organization", "-created_at", "-id"], name="signup_queue_all"),
            models.Index(
                fields=["site", "status", "-created_at", "-id"], name="signup_queue_site_status"
            ),
            models.Index(fields=["site", "-created_at", "-id"], name="signup_queue_site"),
            models.Index(fields=["status", "last_notified_at"], name="signup_request_purge"),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.site_id} ({self.status})"

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or display_email(self.email)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def submitted_fields(self) -> list[tuple[str, str]]:
        """The submitted fields other than the names, labelled, in the form's order."""
        from django_countries import countries

        from sites.models import SUBMITTED_FIELD_LABELS

        shown = []
        for key, label in SUBMITTED_FIELD_LABELS.items():
            value = self.fields.get(key)
            if not value or key in ("first_name", "last_name"):
                continue
            if key == "country":
                value = countries.name(value) or value
            elif key == "preferred_language":
                value = language_name(value)
            shown.append((str(label), str(value)))
        return shown

    @property
    def language_name(self) -> str:
        """The language the requester used, by its own name ("Français")."""
        return language_name(self.language)

    @property
    def required_field_labels(self) -> list[str]:
        from sites.models import REQUIRABLE_FIELDS

        labels = dict(REQUIRABLE_FIELDS)
        return [str(labels[key]) for key in self.required_fields if key in labels]

    @property
    def decider_label(self) -> str:
        """Who or what decided: an administrator's name or the rule."""
        from sites.domains import display_domain

        if self.decided_by_id is not None:
            return self.decided_by.display_name
        if self.decision_basis == self.Basis.PATTERN and self.status in self.DECIDED_STATUSES:
            return str(_("rule %(pattern)s") % {"pattern": display_domain(self.decision_pattern)})
        if self.decision_basis == self.Basis.MODE and self.status in self.DECIDED_STATUSES:
            return str(_("automatic mode"))
        return ""

    @property
    def decision_reason(self) -> str:
        from sites.decision import decision_reason

        if not self.decision_basis:
            return ""
        if self.decision_basis == self.Basis.ADMINISTRATOR:
            return str(_("Decided by an administrator."))
        outcome = self.status if self.status in self.DECIDED_STATUSES else "pending"
        return decision_reason(outcome, self.decision_basis, self.decision_pattern)
