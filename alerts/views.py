"""Alerts center: the Requests queue, a request's page, deciding, bulk, failed emails, the audit
trail."""

import re

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alerts import selectors, services
from mail import services as mail_services
from mail.models import OutboxEmail
from orgs.permissions import get_email_for, get_request_for, hub_view, requests_visible_to
from selfsignup.pagination import keyset_page, query_without_cursor
from selfsignup.params import text_param
from signup.models import SignupRequest

MAX_BULK = 500
# A request id as a form sends it: ASCII digits that fit a bigint ("²" is a digit to isdigit).
_ID = re.compile(r"[0-9]{1,18}")


@hub_view
def request_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.QueueFilters.from_params(request.GET)
    sites = selectors.queue_sites(request.admin)
    queue = selectors.request_queue(request.admin, filters, sites)
    context = {
        "nav": "requests",
        "page": keyset_page(queue, cursor=request.GET.get("cursor", "")),
        "filters": filters,
        "statuses": selectors.STATUS_FILTERS,
        "sites": sites,
        "query_string": query_without_cursor(request.GET),
    }
    return render(request, "alerts/requests.html", context)


def _detail(request: HttpRequest, req, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "nav": "requests",
        "req": req,
        # Also the answer of a refused approve or reject, whose address takes POSTs only.
        "language_next": reverse("hub:request_detail", args=[req.pk]),
        "emails": selectors.request_emails(req),
        "events": selectors.request_events(req),
        "error": error,
        # Also on a refused decision's page: no Approve button that can only be refused again.
        "elsewhere": (
            services.other_organization_message()
            if selectors.address_in_other_organization(req)
            else ""
        ),
    }
    return render(request, "alerts/request_detail.html", context, status=status)


@hub_view
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_request_for(request.admin, pk))


@hub_view
@require_POST
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_request_for(request.admin, pk, write=True)
    try:
        services.request_approve(request_id=req.pk, acting_user=request.user)
    except SignupRequest.DoesNotExist as exc:  # purged (never confirmed) a moment ago
        raise Http404("no such request") from exc
    except services.RequestNotPending as exc:
        return _detail(request, exc.request, error=exc.message, status=409)
    except services.NotApprovable as exc:
        return _detail(request, req, error=exc.message, status=409)
    messages.success(request, _("The request was approved."))
    return redirect("hub:request_detail", pk=req.pk)


@hub_view
@require_POST
def request_reject(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_request_for(request.admin, pk, write=True)
    reason = text_param(request.POST, "reason", max_length=1000)
    try:
        services.request_reject(request_id=req.pk, acting_user=request.user, reason=reason)
    except SignupRequest.DoesNotExist as exc:  # purged (never confirmed) a moment ago
        raise Http404("no such request") from exc
    except services.RequestNotPending as exc:
        return _detail(request, exc.request, error=exc.message, status=409)
    messages.success(request, _("The request was rejected."))
    return redirect("hub:request_detail", pk=req.pk)


@hub_view
@require_POST
def request_bulk(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action")
    ticked = list(dict.fromkeys(int(v) for v in request.POST.getlist("ids") if _ID.fullmatch(v)))
    wanted, beyond = ticked[:MAX_BULK], ticked[MAX_BULK:]
    if action not in ("approve", "reject") or not wanted:
        messages.error(request, _("Tick one or more requests, then choose Approve or Reject."))
        return redirect("hub:requests")
    visible = set(
        requests_visible_to(request.admin).filter(pk__in=wanted).values_list("pk", flat=True)
    )
    outcomes = services.requests_decide_bulk(
        request_ids=[pk for pk in wanted if pk in visible],
        acting_user=request.user,
        approve=action == "approve",
        reason=text_param(request.POST, "reason", max_length=1000),
    )
    hidden = [
        services.Outcome(pk, False, _("Request not found.")) for pk in wanted if pk not in visible
    ]
    too_many = _("Not decided: at most %(max)s requests at once.") % {"max": MAX_BULK}
    left = [services.Outcome(pk, False, too_many) for pk in beyond]
    context = {
        "nav": "requests",
        "outcomes": outcomes + hidden + left,
        "action": action,
        "language_next": reverse("hub:requests"),
    }
    return render(request, "alerts/bulk_result.html", context)


@hub_view
@require_POST
def email_resend(request: HttpRequest, pk: int, email_id: int) -> HttpResponse:
    req = get_request_for(request.admin, pk, write=True)
    _resend(request, get_object_or_404(OutboxEmail, pk=email_id, request=req))
    return redirect("hub:request_detail", pk=req.pk)


def _resend(request: HttpRequest, email: OutboxEmail) -> None:
    try:
        mail_services.email_resend(email_id=email.pk, acting_user=request.user)
    except mail_services.NotFailed:
        messages.info(request, _("This email is not in the failed state: nothing to do."))
    except mail_services.NotResendable:
        messages.info(request, _("This email can't be sent again: what it was about is gone."))
    else:
        messages.success(request, _("The email will be sent again."))


@hub_view
def failed_emails(request: HttpRequest) -> HttpResponse:
    """Every email that ended failed, the organization's own (Add person's) included: none is
    found only by opening its request."""
    context = {
        "nav": "emails",
        "page": keyset_page(
            selectors.failed_emails(request.admin), cursor=request.GET.get("cursor", "")
        ),
        "query_string": query_without_cursor(request.GET),
    }
    return render(request, "alerts/failed_emails.html", context)


@hub_view
@require_POST
def failed_email_resend(request: HttpRequest, email_id: int) -> HttpResponse:
    _resend(request, get_email_for(request.admin, email_id, write=True))
    return redirect("hub:failed_emails")


@hub_view
def audit(request: HttpRequest) -> HttpResponse:
    site = text_param(request.GET, "site", max_length=63)
    sites = selectors.queue_sites(request.admin)
    trail = selectors.audit_trail(request.admin, site=site, sites=sites)
    context = {
        "nav": "audit",
        "page": keyset_page(trail, cursor=request.GET.get("cursor", "")),
        "site": site,
        "sites": sites,
        "query_string": query_without_cursor(request.GET),
    }
    return render(request, "alerts/audit.html", context)
