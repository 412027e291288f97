"""The outbox: every email is a row written with the change that caused it."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailKind(models.TextChoices):
    CONFIRM_EMAIL = "confirm_email", _("Confirm your email")
    REQUEST_RECEIVED = "request_received", _("Request received")
    ADMIN_NEW_REQUEST = "admin_new_request", _("New host account request")
    ADMIN_NEW_HOST = "admin_new_host", _("New host account created")
    HOST_READY = "host_ready", _("Your host account is ready")
    REQUEST_DECLINED = "request_declined", _("Your host account request was declined")
    ALREADY_HOST = "already_host", _("You already have a host account")


class OutboxEmailQuerySet(models.QuerySet["OutboxEmail"]):
    def queued(self) -> "OutboxEmailQuerySet":
        return self.filter(status=OutboxEmail.Status.QUEUED)

    def resendable(self) -> "OutboxEmailQuerySet":
        """Failed emails that a new try could still deliver usefully: not of a kind no longer
        sent, nor a confirmation of a request since purged (its link would lead nowhere)."""
        return self.filter(status=OutboxEmail.Status.FAILED, kind__in=EmailKind.values).exclude(
            kind=EmailKind.CONFIRM_EMAIL, request__isnull=True
        )


class OutboxEmail(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    # One row per (cause, kind, recipient): writing the same email twice finds the first row.
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(_("email"), max_length=32, choices=EmailKind.choices)
    to_email = models.CharField(_("to"), max_length=254)
    language = models.CharField(max_length=8, default="en")
    context = models.JSONField(default=dict)
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    request = models.ForeignKey(
        "signup.SignupRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="emails",
    )
    status = models.CharField(
        _("state"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("tries"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    # When the mail server was about to have the whole message (just before DATA's final dot).
    handed_over_at = models.DateTimeField(null=True, blank=True)
    # Tries whose whole message got no answer in time, over the row's life (the server may
    # have a copy of each): kept through other failures, so they can't add up unseen.
    unanswered = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OutboxEmailQuerySet.as_manager()

    class Meta:
        verbose_name = _("outbox email")
        verbose_name_plural = _("outbox emails")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "sending", "sent", "failed"]),
                name="mail_outbox_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False),
                name="mail_outbox_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="mail_outbox_due"),
            models.Index(fields=["request", "created_at"], name="mail_outbox_request_log"),
            # Alerts center › Failed emails: an organization's, newest first (keyset cursor).
            models.Index(
                fields=["organization", "-created_at", "-id"],
                condition=models.Q(status="failed"),
                name="mail_outbox_failed",
            ),
            # The Overview's count of the failures of the last days.
            models.Index(
                fields=["organization", "updated_at"],
                condition=models.Q(status="failed"),
                name="mail_outbox_failed_lately",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.to_email} ({self.status})"
