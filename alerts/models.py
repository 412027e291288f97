"""The audit trail: who changed what, and when."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        SETTINGS_UPDATED = "settings_updated", _("Settings changed")
        REQUEST_APPROVED = "request_approved", _("Request approved")
        REQUEST_REJECTED = "request_rejected", _("Request rejected")
        PERSON_CREATED = "person_created", _("Person added")
        EMAIL_RESENT = "email_resent", _("Email sent again")
        LICENSE_REMOVED = "license_removed", _("Host license removed")
        PERSON_DELETED = "person_deleted", _("Person removed")

    organization = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="audit_events"
    )
    site = models.ForeignKey(
        "sites.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request = models.ForeignKey(
        "signup.SignupRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who acted, as shown then: an administrator's name, or the rule that decided.
    actor_label = models.CharField(max_length=300)
    action = models.CharField(max_length=32, choices=Action.choices)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="alerts_audit_org"),
            models.Index(fields=["site", "-created_at", "-id"], name="alerts_audit_site"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label}: {self.action}"

    @property
    def change_lines(self) -> list[str]:
        """What changed, as short sentences for the audit trail page."""
        from alerts.changes import describe

        return describe(self)
