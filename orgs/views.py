"""The hub's sign-in, overview and people pages."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from orgs import selectors
from orgs.forms import HubLoginForm, PersonForm
from orgs.permissions import can_add_people, hub_view
from orgs.services import EmailInOtherOrganization, PersonExists, person_create_manually
from selfsignup.pagination import keyset_page, query_without_cursor
from selfsignup.params import text_param
from selfsignup.ratelimits import limit_signins
from sites.domains import InvalidDomain


@method_decorator(limit_signins, name="post")
class LoginView(auth_views.LoginView):
    template_name = "orgs/login.html"
    authentication_form = HubLoginForm
    redirect_authenticated_user = False


class LogoutView(auth_views.LogoutView):
    next_page = "hub:login"


@hub_view
def home(request: HttpRequest) -> HttpResponse:
    context = {"nav": "overview", **selectors.overview(request.admin)}
    return render(request, "orgs/overview.html", context)


@hub_view
def people(request: HttpRequest) -> HttpResponse:
    query = text_param(request.GET, "q", max_length=100)
    page = keyset_page(
        selectors.people_list(request.admin, query=query), cursor=request.GET.get("cursor", "")
    )
    context = {
        "nav": "people",
        "page": page,
        "query": query,
        "query_string": query_without_cursor(request.GET),
        "can_add": can_add_people(request.admin),
    }
    return render(request, "orgs/people.html", context)


@hub_view
@require_http_methods(["GET", "POST"])
def person_add(request: HttpRequest) -> HttpResponse:
    if not can_add_people(request.admin):
        raise PermissionDenied("full administrators only")
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            person, emailed_for = person_create_manually(
                organization=request.admin.organization,
                email=form.cleaned_data["email"],
                fields=form.cleaned_data,
                acting_user=request.user,
            )
        except (PersonExists, EmailInOtherOrganization, InvalidDomain):
            form.add_error("email", _("Someone already has this address."))
        else:
            if emailed_for is not None:
                message = _("%(name)s was added; an email tells them how to sign in.")
            else:
                message = _("%(name)s was added.")
            messages.success(request, message % {"name": person.display_name})
            return redirect("hub:people")
    return render(request, "orgs/person_add.html", {"nav": "people", "form": form})
