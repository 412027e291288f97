"""`seed_demo` (SPEC section 10) and `/healthz`."""

import json

import pytest
from django.core.management import call_command

from orgs.models import Administrator, Organization, User
from signup.models import SignupRequest
from sites.models import DomainPattern, Site


def snapshot():
    return {
        "orgs": list(Organization.objects.values_list("slug", "name").order_by("slug")),
        "users": list(User.objects.values_list("email", "password").order_by("email")),
        "admins": list(Administrator.objects.values_list("user__email", "role").order_by("pk")),
        "sites": list(
            Site.objects.values_list(
                "slug",
                "kind",
                "signup_enabled",
                "mode",
                "organization__slug",
                "settings_updated_at",
            ).order_by("slug")
        ),
        "patterns": list(DomainPattern.objects.values_list("pattern", "action").order_by("pk")),
    }


def test_seed_demo_loads_the_spec_data_and_is_idempotent(db, client):
    call_command("seed_demo", verbosity=0)
    first = snapshot()
    call_command("seed_demo", verbosity=0)
    assert snapshot() == first
    acme = Site.objects.get(slug="acme")
    assert (acme.kind, acme.signup_enabled, acme.mode) == ("commercial", True, "review")
    assert acme.organization.name == "Acme"
    assert sorted(first["patterns"]) == [("acme.example", "approve"), ("spam.example", "reject")]
    assert Site.objects.get(slug="acme-gov").kind == "government"
    assert Site.objects.get(slug="globex").organization.name == "Globex"
    for email, password in [
        ("admin@acme.example", "acme-demo-password"),
        ("admin@globex.example", "globex-demo-password"),
    ]:
        user = User.objects.get(email=email)
        assert user.check_password(password)
        assert user.administrator.role == "full"
    assert client.get("/sites/acme/").status_code == 200
    assert not SignupRequest.objects.exists()


def test_healthz_ok(db, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content)["checks"] == {"database": "ok", "broker": "ok"}


def test_healthz_answers_probes_ahead_of_the_https_redirect_and_host_check(db, client, settings):
    """Probes speak plain HTTP to an address: with the production redirect on and only the
    public host allowed, /healthz still answers for itself (a 301 would pass for healthy)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["signup.example.com"]
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200 and response["X-Request-ID"]
    assert client.get("/hub/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400


@pytest.mark.parametrize("down", ["database", "broker"])
def test_healthz_names_what_is_down(db, client, monkeypatch, down):
    monkeypatch.setattr(f"selfsignup.health.{down}_ok", lambda: False)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content)["down"] == [down]


def test_healthz_reports_an_unreachable_broker(db, client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content)["down"] == ["broker"]


def test_healthz_can_check_the_database_alone_for_a_load_balancer(db, client, monkeypatch):
    """Sign-ups go on without the broker: a load balancer asks for the database only."""
    monkeypatch.setattr("selfsignup.health.broker_ok", lambda: False)
    alone = client.get("/healthz?check=database")
    assert alone.status_code == 200
    assert json.loads(alone.content)["checks"] == {"database": "ok"}
    assert client.get("/healthz?check=nonsense").status_code == 503  # unknown: both checks
    monkeypatch.setattr("selfsignup.health.database_ok", lambda: False)
    assert client.get("/healthz?check=database").status_code == 503
