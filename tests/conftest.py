"""Shared fixtures: settings for tests, in-process tasks, personas and helpers.

With DATABASE_URL and REDIS_URL set, the tests run on PostgreSQL and Redis, and the integration
tests start a real Celery worker and SMTP server; without them they use SQLite and skip those.
REQUIRE_SERVICES=1 (CI) turns a missing service into a failure instead of a skip.
"""

import os
import uuid
from collections.abc import Sequence

import pytest
from django.core import mail

from orgs.models import Administrator
from selfsignup.celery import app as celery_app
from tests import factories

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_SERVICES:
        missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
        if missing:
            raise pytest.UsageError(f"REQUIRE_SERVICES=1 but {', '.join(missing)} not set")
        if not os.environ["DATABASE_URL"].startswith("postgres"):
            raise pytest.UsageError("REQUIRE_SERVICES=1 needs a PostgreSQL DATABASE_URL")


def services_available() -> tuple[bool, str]:
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        return False, "needs PostgreSQL (DATABASE_URL)"
    if not settings.REDIS_URL:
        return False, "needs Redis (REDIS_URL)"
    return True, ""


def require_services() -> None:
    """Skip the calling test without PostgreSQL and Redis, or fail under REQUIRE_SERVICES=1."""
    ok, reason = services_available()
    if not ok:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1: {reason}")
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = "http://testserver"
    caches = {name: dict(conf) for name, conf in settings.CACHES.items()}
    for conf in caches.values():
        conf["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"  # a fresh cache for every test
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def _in_process_tasks(request):
    """Run tasks in-process, raising their errors, except in integration tests."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks):
    """Run on-commit work (task enqueues and, in-process, the tasks) of the block."""

    def runner():
        return django_capture_on_commit_callbacks(execute=True)

    return runner


class Outbox(Sequence):
    """Django's test outbox, read at each use: setting up the database replaces the list."""

    def __getitem__(self, index):
        return mail.outbox[index]

    def __len__(self) -> int:
        return len(mail.outbox)

    def __eq__(self, other) -> bool:
        return list(mail.outbox) == list(other)

    def clear(self) -> None:
        mail.outbox.clear()


@pytest.fixture
def outbox():
    """Emails sent through Django's test backend."""
    mail.outbox.clear()
    return Outbox()


# --- Personas ---------------------------------------------------------------------------------


@pytest.fixture
def org(db):
    return factories.OrganizationFactory(name="Acme", slug="acme-org")


@pytest.fixture
def site(org):
    return factories.SiteFactory(organization=org, name="Acme", slug="acme")


@pytest.fixture
def other_site(org):
    return factories.SiteFactory(organization=org, name="Acme Labs", slug="acme-labs")


@pytest.fixture
def other_org(db):
    return factories.OrganizationFactory(name="Globex", slug="globex-org")


@pytest.fixture
def other_org_site(other_org):
    return factories.SiteFactory(organization=other_org, name="Globex", slug="globex")


def _admin(org, role, email, name, sites=()):
    user = factories.UserFactory(email=email, full_name=name)
    admin = factories.AdministratorFactory(user=user, organization=org, role=role)
    admin.sites.set(sites)
    return user


@pytest.fixture
def full_admin(org):
    return _admin(org, Administrator.Role.FULL, "ana@acme.example", "Ana Admin")


@pytest.fixture
def site_admin(org, other_site):
    """A site administrator of `other_site` only (not of `site`)."""
    return _admin(org, Administrator.Role.SITE, "sam@acme.example", "Sam Site", [other_site])


@pytest.fixture
def readonly_admin(org):
    return _admin(org, Administrator.Role.READ_ONLY, "rita@acme.example", "Rita Readonly")


@pytest.fixture
def other_org_admin(other_org):
    return _admin(other_org, Administrator.Role.FULL, "gus@globex.example", "Gus Globex")
