"""On a phone (375 px wide), in the longer of the two languages: no page is wider than the
screen, and a request can be decided with ordinary taps."""

import re

import pytest
from django.core.management import call_command

from mail.models import OutboxEmail
from signup.models import SignupRequest
from sites.models import Site
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = 375


def assert_fits(page, path: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE, f"{path} is {width} px wide on a {PHONE} px screen"


def test_pages_fit_a_phone_and_a_request_is_decided_by_taps(live_server, new_page, shot):
    call_command("seed_demo", verbosity=0)
    acme = Site.objects.get(slug="acme")
    req = factories.SignupRequestFactory(
        site=acme, first_name="Éloïse", last_name="Wojciechowska-Montgomery"
    )
    # The email log's table is what made the page wider than the screen.
    OutboxEmail.objects.create(
        idempotency_key="phone", kind="request_received", to_email=req.email, request=req
    )
    page = new_page(locale="fr-FR", width=PHONE)
    base = live_server.url
    for path in ["/sites/acme/", "/sites/acme/signup/", "/sites/acme/signin/"]:
        page.goto(base + path)
        assert_fits(page, path)
    page.goto(f"{base}/hub/login/")
    page.get_by_label("Adresse électronique").fill("admin@acme.example")
    page.get_by_label("Mot de passe").fill("acme-demo-password")
    page.get_by_role("button", name=re.compile("Se connecter")).click()
    page.wait_for_url(re.compile("/hub/$"))
    for path in [
        "/hub/",
        "/hub/meetings/sites/",
        "/hub/meetings/sites/acme/settings/",
        "/hub/alerts/requests/",
        "/hub/people/",
        "/hub/alerts/audit/",
        f"/hub/alerts/requests/{req.pk}/",
    ]:
        page.goto(base + path)
        assert_fits(page, path)
    shot(page, "phone-request-fr")
    page.get_by_role("button", name="Rejeter").click()
    page.wait_for_load_state()
    assert SignupRequest.objects.get(pk=req.pk).status == "rejected"
