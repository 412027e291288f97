"""`/healthz`: 200 when the database and the broker answer, 503 naming what does not."""

from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def broker_ok() -> bool:
    if not settings.REDIS_URL:
        return True  # tasks run in-process: there is no broker to lose
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        return bool(client.ping())
    except redis.RedisError:
        return False


# Looked up when called (so that a test can replace one).
CHECKS: dict[str, Callable[[], bool]] = {
    "database": lambda: database_ok(),
    "broker": lambda: broker_ok(),
}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Both checks, or only those named by `?check=` (a load balancer asks for the database
    alone: sign-ups go on without the broker, so a broker outage must not empty the pool)."""
    names = [name for name in request.GET.getlist("check") if name in CHECKS] or list(CHECKS)
    checks = {name: CHECKS[name]() for name in dict.fromkeys(names)}
    down = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not down else "unavailable",
        "checks": {name: "ok" if ok else "down" for name, ok in checks.items()},
    }
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)


class HealthMiddleware:
    """Answer `/healthz` ahead of the HTTPS redirect and the host check: load balancers and
    container probes speak plain HTTP to an address, not HTTPS to the public host name (and a
    redirect would pass for healthy with the database down)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            return healthz(request)
        return self.get_response(request)
