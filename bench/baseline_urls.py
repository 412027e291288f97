"""The project's URLs plus the baseline views of the sign-up throughput benchmarks.

`/bench/bare/` answers a small response without touching the database; `/bench/one-row/`
inserts one row into `bench_row` (created by the benchmark) on the persistent connection.
`/bench/form-row/` is a public form POST with none of the sign-up's own work: the CSRF check, a
one-field form, that one row, and the very page a sign-up answers, served the same way. It is not
judged; it shows how much of a sign-up's cost any such POST pays.
"""

from django import forms
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import path
from django.views.decorators.http import require_POST

from orgs.models import Organization
from selfsignup.urls import urlpatterns as project_urlpatterns
from signup.pages import thanks_page
from sites.models import Site

BARE_PATH = "/bench/bare/"
ONE_ROW_PATH = "/bench/one-row/"
FORM_ROW_PATH = "/bench/form-row/"

# The answer page shows a site's name, slug and organization; these are never saved.
_PAGE_SITE = Site(name="Bench site", slug="bench", organization=Organization(name="Bench"))


class _RowForm(forms.Form):
    email = forms.EmailField()


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def one_row(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_row (payload) VALUES (%s)", ["benchmark row"])
    return HttpResponse("ok")


@require_POST
def form_row(request: HttpRequest) -> HttpResponse:
    form = _RowForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("invalid form")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_row (payload) VALUES (%s)", [form.cleaned_data["email"]])
    return thanks_page(request, _PAGE_SITE)


urlpatterns = [
    path(BARE_PATH.lstrip("/"), bare),
    path(ONE_ROW_PATH.lstrip("/"), one_row),
    path(FORM_ROW_PATH.lstrip("/"), form_row),
    *project_urlpatterns,
]
