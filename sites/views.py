"""The hub's Meetings › Sites pages and a site's Account Management settings."""

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from orgs.permissions import get_site_for, hub_view, sites_visible_to
from selfsignup.bodies import large_form
from selfsignup.moments import moment
from sites.decision import decide
from sites.domains import normalize_email
from sites.forms import SETTINGS_FORM_MAX_BYTES, AddressTestForm, SiteSettingsForm
from sites.selectors import Impact, proposed_settings_impact, saved_settings_impact
from sites.services import (
    SettingsChanged,
    SettingsInvalid,
    settings_version,
    site_settings_update,
)


@hub_view
def site_list(request: HttpRequest) -> HttpResponse:
    sites = sites_visible_to(request.admin).order_by("name")
    return render(request, "sites/list.html", {"nav": "sites", "sites": sites})


def _address_test(request: HttpRequest, site) -> tuple[AddressTestForm, object]:
    """The “Test an address” box: the decision the saved settings give an address."""
    if "address" not in request.GET:
        return AddressTestForm(), None
    form = AddressTestForm(request.GET)
    if not form.is_valid():
        return form, None
    return form, decide(site=site, normalized_email=normalize_email(form.cleaned_data["address"]))


def _unseen_impact(request: HttpRequest, site, form: SiteSettingsForm) -> Impact | None:
    """With "decide": what the settings being saved would decide, when it is not what the page
    showed (the rules were edited since, or requests came or went). It is shown, and nothing is
    saved, until the administrator has seen it. A POST without what the page showed (not from
    the page) is not held back, nor one whose rules decide nothing."""
    seen = request.POST.get("seen_impact")
    if seen is None:
        return None
    impact = proposed_settings_impact(site, form.values())
    if impact is None or not impact.total or seen == impact.digest:
        return None
    return impact


SETTINGS_CHANGED = "settings_changed"


def _save(
    request: HttpRequest, site, form: SiteSettingsForm, *, decide_pending: bool
) -> HttpResponse | None:
    """Save the settings and go back to the page; None when they changed under our feet (the
    form then shows why, like its own errors)."""
    try:
        site_settings_update(
            site_id=site.pk,
            acting_user=request.user,
            values=form.values(),
            decide_pending=decide_pending,
            seen_version=request.POST.get("settings_version"),
        )
    except SettingsInvalid as exc:
        for field, errors in exc.errors.items():
            form.add_error(field, errors)
        return None
    except SettingsChanged as exc:
        changed = exc.site
        # The page now stands for the save it names (not a later one it hasn't shown).
        site.settings_updated_at = changed.settings_updated_at
        site.settings_updated_by = changed.settings_updated_by
        by = changed.settings_updated_by
        who = by.display_name if by else _("Someone")
        message = _(
            "%(who)s saved these settings at %(when)s, after this page was shown. Nothing is "
            "saved: the form below still holds your changes. Check them against the settings "
            "now saved (in the audit trail), then save again."
        ) % {"who": who, "when": moment(changed.settings_updated_at)}
        form.add_error(None, ValidationError(message, code=SETTINGS_CHANGED))
        return None
    if decide_pending:
        messages.success(
            request,
            _("Settings saved. The pending requests that the new rules decide are being decided."),
        )
    else:
        messages.success(request, _("Settings saved."))
    return redirect("hub:site_settings", slug=site.slug)


def _shown_version(request: HttpRequest, site, form: SiteSettingsForm) -> str:
    """The save the page goes on standing for: the one it was first shown after, until it has
    said that someone saved since (then it stands for that one, which it now names)."""
    if request.method != "POST":
        return settings_version(site)
    if form.has_error(NON_FIELD_ERRORS, SETTINGS_CHANGED):
        return settings_version(site)  # the save the page now names (see `_save`)
    return request.POST.get("settings_version", settings_version(site))


@large_form(SETTINGS_FORM_MAX_BYTES)
@hub_view
@require_http_methods(["GET", "POST"])
def site_settings(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_site_for(request.admin, slug, write=request.method == "POST")
    form = SiteSettingsForm(request.POST or None, site=site)
    unseen = None
    if request.method == "POST" and form.is_valid():
        # Save always saves; the pending requests are decided only when asked for in the form,
        # and only by figures the administrator has seen.
        decide_pending = request.POST.get("pending_action") == "decide"
        unseen = _unseen_impact(request, site, form) if decide_pending else None
        if unseen is None and (saved := _save(request, site, form, decide_pending=decide_pending)):
            return saved
    test_form, test_decision = _address_test(request, site)
    context = {
        "nav": "sites",
        "site": site,
        "form": form,
        "settings_version": _shown_version(request, site, form),
        "impact": unseen if unseen is not None else saved_settings_impact(site),
        "confirm_decide": unseen is not None,
        "test_form": test_form,
        "test_decision": test_decision,
    }
    return render(request, "sites/settings.html", context)
