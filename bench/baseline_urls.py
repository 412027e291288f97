"""The project's URLs plus two baseline views for the sign-up throughput benchmarks.

`/bench/bare/` answers a small response without touching the database; `/bench/one-row/`
inserts one row into `bench_row` (created by the benchmark) on the persistent connection.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path

from selfsignup.urls import urlpatterns as project_urlpatterns

BARE_PATH = "/bench/bare/"
ONE_ROW_PATH = "/bench/one-row/"


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def one_row(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_row (payload) VALUES (%s)", ["benchmark row"])
    return HttpResponse("ok")


urlpatterns = [
    path(BARE_PATH.lstrip("/"), bare),
    path(ONE_ROW_PATH.lstrip("/"), one_row),
    *project_urlpatterns,
]
