from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from mail.models import OutboxEmail
from mail.services import NotFailed, NotResendable, email_resend


@admin.action(description=_("Send the selected failed emails again"))
def resend(modeladmin, request, queryset) -> None:
    for email in queryset.filter(status=OutboxEmail.Status.FAILED):
        try:
            email_resend(email_id=email.pk, acting_user=request.user)
        except NotFailed:
            continue
        except NotResendable:
            modeladmin.message_user(
                request,
                _("%(email)s: can't be sent again (what it was about is gone)") % {"email": email},
                messages.WARNING,
            )
            continue
        modeladmin.message_user(
            request, _("%(email)s: queued again") % {"email": email}, messages.SUCCESS
        )


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "to_email", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["to_email", "idempotency_key"]
    actions = [resend]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Each row is a request's email log (and an unsent one would silently never go).
        return False
