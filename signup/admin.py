from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from alerts.services import requests_decide_bulk
from signup.models import SignupRequest


def _decide(modeladmin, request, queryset, *, approve: bool) -> None:
    """Operators decide through the same service as the hub."""
    outcomes = requests_decide_bulk(
        request_ids=list(queryset.values_list("pk", flat=True)),
        acting_user=request.user,
        approve=approve,
    )
    for outcome in outcomes:
        level = messages.SUCCESS if outcome.ok else messages.WARNING
        modeladmin.message_user(request, f"#{outcome.request_id}: {outcome.message}", level)


@admin.action(description=_("Approve the selected requests"))
def approve(modeladmin, request, queryset) -> None:
    _decide(modeladmin, request, queryset, approve=True)


@admin.action(description=_("Reject the selected requests"))
def reject(modeladmin, request, queryset) -> None:
    _decide(modeladmin, request, queryset, approve=False)


@admin.register(SignupRequest)
class SignupRequestAdmin(admin.ModelAdmin):
    list_display = ["email", "site", "status", "created_at", "decided_by", "decided_at"]
    list_filter = ["status", "site__organization"]
    search_fields = ["email_normalized", "first_name", "last_name"]
    list_select_related = ["site", "decided_by"]
    actions = [approve, reject]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # state changes go through the services (the actions above)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # A request is the record of who asked and who decided; unconfirmed ones expire by the
        # periodic task.
        return False
