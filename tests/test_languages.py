"""English and French everywhere: public pages, the hub and every email (SPEC section 9)."""

import gettext
import html
import re
from pathlib import Path

import pytest
from django.conf import settings

from mail.models import EmailKind, OutboxEmail
from mail.rendering import render_email
from mail.services import STOPPED_WHILE_SENDING
from orgs.models import Administrator
from tests import factories
from tests.helpers import human

CATALOG = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.mo"


@pytest.fixture(scope="module")
def english_phrases() -> list[str]:
    """Every catalog entry long enough to be recognised, whose French text differs."""
    with CATALOG.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    phrases = []
    for key, french in catalog.items():
        english = key[0] if isinstance(key, tuple) else key
        if not english or english == french or len(english) < 14 or " " not in english:
            continue
        # Only the literal text around placeholders can be looked for.
        for piece in re.split(r"%\(\w+\)[sd]|<[^>]+>", english):
            piece = piece.strip(" .,:;")
            if len(piece) >= 14 and " " in piece:
                phrases.append(piece)
    return phrases


def visible_text(content: bytes) -> str:
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", content.decode(), flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(html.unescape(text).split())


def assert_french(text: str, english_phrases: list[str], where: str) -> None:
    left = [phrase for phrase in english_phrases if phrase in text]
    assert not left, f"{where} still says in English: {left}"


def test_catalog_is_complete():
    po = (CATALOG.parent / "django.po").read_text()
    entries = po.split("\n\n")[1:]
    assert len(entries) > 300
    untranslated = [e for e in entries if re.search(r'^msgstr(\[\d\])? ""$(?!\n")', e, re.M)]
    assert not untranslated, untranslated[:3]
    assert "#, fuzzy" not in po


def test_french_punctuation_keeps_to_its_word():
    """French puts a space before : ; ! ? » and after «: a non-breaking one, so that a line
    never starts with the sign."""
    from babel.messages.pofile import read_po

    with (CATALOG.parent / "django.po").open("rb") as po:
        catalog = read_po(po)
    breakable = []
    for message in catalog:
        for text in message.string if isinstance(message.string, tuple) else [message.string]:
            if re.search(r" [:;!?»]|« ", text or ""):
                breakable.append(text)
    assert not breakable, breakable[:3]


@pytest.fixture
def french_world(client, site, full_admin, other_site):
    factories.LicenseTemplateFactory(organization=site.organization)
    req = factories.SignupRequestFactory(site=site, fields={"phone": "+33 1 23 45 67 89"})
    # An email the outbox sweep tried again: its last error is the sweep's own sentence.
    OutboxEmail.objects.create(
        idempotency_key="swept",
        kind="request_received",
        to_email=req.email,
        request=req,
        last_error=STOPPED_WHILE_SENDING,
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return req


PUBLIC = ["/sites/{site}/", "/sites/{site}/signup/", "/sites/{site}/signin/"]
HUB = [
    "/hub/",
    "/hub/people/",
    "/hub/people/add/",
    "/hub/meetings/sites/",
    "/hub/meetings/sites/{site}/settings/?address=x@example.net",
    "/hub/alerts/requests/",
    "/hub/alerts/requests/?status=all",
    "/hub/alerts/requests/{req}/",
    "/hub/alerts/audit/",
]


def test_every_page_speaks_french(client, site, full_admin, french_world, english_phrases):
    pages = [p.format(site=site.slug, req=french_world.pk) for p in PUBLIC]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Content-Language"] == "fr"
        assert_french(visible_text(response.content), english_phrases, path)
    client.force_login(full_admin)
    for path in [p.format(site=site.slug, req=french_world.pk) for p in HUB]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_french(visible_text(response.content), english_phrases, path)
    hub = visible_text(client.get("/hub/alerts/requests/").content)
    assert "Centre d’alertes" in hub and "Demandes" in hub
    assert "Non confirmées" in hub and "Approuvées" in hub  # the tabs name lists of requests
    settings_page = visible_text(client.get(f"/hub/meetings/sites/{site.slug}/settings/").content)
    assert "Autoriser l’inscription du compte organisateur" in settings_page
    detail = visible_text(client.get(f"/hub/alerts/requests/{french_world.pk}/").content)
    assert "Approuver" in detail and "Rejeter" in detail
    assert "Le processus s’est arrêté pendant l’envoi" in detail


def test_public_pages_answer_in_french_after_a_valid_sign_up(
    client, site, run_commits, english_phrases
):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert "S’inscrire" in visible_text(client.get(f"/sites/{site.slug}/").content)
    with run_commits():
        thanks = client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "fr@example.net", "first_name": "A", "last_name": "B"}),
        )
    assert "Merci. Consultez votre messagerie" in visible_text(thanks.content)
    invalid = client.post(f"/sites/{site.slug}/signup/", human({"email": "nope"}))
    assert_french(visible_text(invalid.content), english_phrases, "invalid form")


def test_country_names_are_in_the_page_language(client, site, full_admin):
    site.required_fields = ["first_name", "address"]
    site.save()
    req = factories.SignupRequestFactory(site=site, fields={"country": "DE"})
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    form = visible_text(client.get(f"/sites/{site.slug}/signup/").content)
    assert "Allemagne" in form and "Germany" not in form
    client.force_login(full_admin)
    detail = visible_text(client.get(f"/hub/alerts/requests/{req.pk}/").content)
    assert "Allemagne" in detail
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Germany" in visible_text(client.get(f"/hub/alerts/requests/{req.pk}/").content)


CONTEXTS = {
    "site_name": "Acme",
    "site_url": "http://x/",
    "first_name": "Léa",
    "email": "lea@x.fr",
    "confirm_url": "http://x/c/",
    "activate_url": "http://x/a/",
    "signin_url": "http://x/s/",
    "requester_name": "Léa Martin",
    "requester_email": "lea@x.fr",
    "request_url": "http://x/r/",
    "queue_url": "http://x/q/",
    "reason": "Complet.",
}


@pytest.mark.parametrize("kind", EmailKind.values)
def test_every_email_exists_in_both_languages(kind, english_phrases):
    english = render_email(kind=kind, context=CONTEXTS, language="en")
    french = render_email(kind=kind, context=CONTEXTS, language="fr")
    assert english.subject != french.subject
    for part in (french.subject, french.text, visible_text(french.html.encode())):
        assert_french(part, english_phrases, f"{kind} email")


def test_administrator_language_follows_the_switcher_and_their_emails(
    client, site, full_admin, outbox, run_commits
):
    client.force_login(full_admin)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/hub/"})
    client.get("/hub/")
    assert Administrator.objects.get(user=full_admin).language == "fr"
    with run_commits():
        client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "en@example.net", "first_name": "E", "last_name": "N"}),
            HTTP_ACCEPT_LANGUAGE="en",
            HTTP_COOKIE="",
        )
    admin_email = OutboxEmail.objects.get(to_email=full_admin.email)
    assert admin_email.language == "fr"
    message = next(m for m in outbox if m.to == [full_admin.email])
    assert message.subject.startswith("Nouvelle demande")


def test_administrator_reading_the_hub_in_their_browsers_language_gets_emails_in_it(
    client, site, full_admin, outbox, run_commits
):
    # Never touched the switcher: the browser asks for French, and the hub is in French.
    client.force_login(full_admin)
    page = client.get("/hub/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.headers["Content-Language"] == "fr"
    assert Administrator.objects.get(user=full_admin).language == "fr"
    client.logout()
    with run_commits():
        client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "en@example.net", "first_name": "E", "last_name": "N"}),
            HTTP_ACCEPT_LANGUAGE="en",
        )
    message = next(m for m in outbox if m.to == [full_admin.email])
    assert message.subject.startswith("Nouvelle demande")
    # Back in an English browser: the emails follow.
    client.force_login(full_admin)
    client.get("/hub/", HTTP_ACCEPT_LANGUAGE="en")
    assert Administrator.objects.get(user=full_admin).language == "en"


@pytest.mark.parametrize("accept", ["de", "", "es-ES,es;q=0.9"])
def test_a_page_in_the_default_language_because_nothing_was_asked_changes_nothing(
    client, full_admin, accept
):
    Administrator.objects.filter(user=full_admin).update(language="fr")
    client.force_login(full_admin)
    page = client.get("/hub/", HTTP_ACCEPT_LANGUAGE=accept)
    assert page.headers["Content-Language"] == "en"
    assert Administrator.objects.get(user=full_admin).language == "fr"


def test_audit_lines_use_french_punctuation(site):
    from django.utils import translation

    from alerts.changes import describe
    from alerts.models import AuditEvent

    event = AuditEvent(
        organization=site.organization,
        site=site,
        actor_label="Ana",
        action=AuditEvent.Action.SETTINGS_UPDATED,
        changes={"mode": ["review", "automatic"]},
    )
    with translation.override("fr"):
        (line,) = describe(event)
    assert line.startswith("Mode\u00a0: Examiner les demandes")


@pytest.mark.parametrize("kind", ["admin_new_request", "admin_new_host"])
def test_admin_emails_give_the_address_once_when_there_is_no_name(site, kind):
    """A form that asks for no name: the address is not repeated as the name."""
    from mail.rendering import render_email
    from orgs.selectors import Recipient
    from signup import emails

    req = factories.SignupRequestFactory(
        site=site, email="nn@example.net", first_name="", last_name=""
    )
    for language in ["en", "fr"]:
        (spec,) = emails.to_reviewers(req, kind, [Recipient("ana@acme.example", language)])
        rendered = render_email(kind=kind, context=spec.context, language=language)
        assert rendered.text.count("nn@example.net") == 1, rendered.text
        assert rendered.html.count("nn@example.net") == 1, rendered.html


def test_an_audit_event_of_a_big_save_shows_its_first_domain_changes(site):
    from django.utils import translation

    from alerts.changes import PATTERN_LINES, describe
    from alerts.models import AuditEvent

    added = [f"approve:d{i}.example" for i in range(10_000)]
    event = AuditEvent(
        organization=site.organization,
        site=site,
        actor_label="Ana",
        action=AuditEvent.Action.SETTINGS_UPDATED,
        changes={"patterns_added": added, "patterns_removed": ["reject:old.example"]},
    )
    lines = describe(event)
    assert len(lines) == PATTERN_LINES + 1
    assert lines[-1] == "and 9,981 more domain changes"
    with translation.override("fr"):
        assert describe(event)[-1] == "et 9\xa0981 autres modifications de domaines"


def test_a_link_from_an_email_opens_its_page_in_the_emails_language(client, site, run_commits):
    """A French sign-up's confirmation link, opened in a browser that asks for English (another
    device, say), shows the page in French, and the pages after it too; the switcher's choice
    on that browser still wins."""
    site.require_confirmation = True
    site.save()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    with run_commits():
        client.post(
            f"/sites/{site.slug}/signup/",
            human({"email": "fr@example.net", "first_name": "A", "last_name": "B"}),
        )
    email = OutboxEmail.objects.get(kind=EmailKind.CONFIRM_EMAIL)
    link = email.context["confirm_url"]
    assert link.endswith("/?lang=fr") and email.context["site_url"].endswith("/?lang=fr")
    path = link.removeprefix(settings.SITE_URL)
    client.cookies.clear()

    elsewhere = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert elsewhere["Content-Language"] == "fr"
    assert "Votre adresse électronique est confirmée" in visible_text(elsewhere.content)
    assert elsewhere.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    home = client.get(f"/sites/{site.slug}/", HTTP_ACCEPT_LANGUAGE="en")
    assert home["Content-Language"] == "fr"

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    chosen = client.get(f"/sites/{site.slug}/?lang=fr", HTTP_ACCEPT_LANGUAGE="fr")
    assert chosen["Content-Language"] == "en"
    assert settings.LANGUAGE_COOKIE_NAME not in chosen.cookies
    unknown = client.get(f"/sites/{site.slug}/?lang=xx")
    assert unknown.status_code == 200 and unknown["Content-Language"] == "en"


def test_an_administrators_link_opens_the_hub_in_their_language(site):
    from orgs.selectors import Recipient
    from signup import emails

    request = factories.SignupRequestFactory(site=site)
    recipients = [Recipient("ana@acme.example", "fr"), Recipient("bo@acme.example", "en")]
    spec, english = emails.to_reviewers(request, EmailKind.ADMIN_NEW_REQUEST, recipients)
    assert english.context["queue_url"].endswith("/hub/alerts/requests/?lang=en")
    assert spec.context["request_url"].endswith(f"/hub/alerts/requests/{request.pk}/?lang=fr")
    assert spec.context["queue_url"].endswith("/hub/alerts/requests/?lang=fr")


def test_switching_language_after_a_post_never_lands_on_a_post_only_address(
    client, site, readonly_admin
):
    """The 403 of a refused POST comes back to the hub's home; a GET's, to the same page."""
    request = factories.SignupRequestFactory(site=site)
    client.force_login(readonly_admin)
    refused = client.post(f"/hub/alerts/requests/{request.pk}/approve/")
    assert refused.status_code == 403
    page = refused.content.decode()
    assert 'name="next" value="/hub/"' in page and 'href="/hub/">Back to the hub<' in page
    missing = client.get("/hub/alerts/requests/999999/")
    assert missing.status_code == 404
    assert 'href="/hub/">Back to the hub<' in missing.content.decode()
    assert 'name="next" value="/hub/alerts/requests/999999/"' in missing.content.decode()


def test_a_form_sent_with_an_expired_token_gets_the_products_page(site):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.get(f"/sites/{site.slug}/signup/")
    refused = strict.post(
        f"/sites/{site.slug}/signup/",
        {"email": "a@example.net", "csrfmiddlewaretoken": "x" * 64},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert refused.status_code == 403 and refused["Content-Language"] == "fr"
    text = visible_text(refused.content)
    assert "Ce formulaire a expiré" in text and "Retour à la page d’accueil" in text
    page = refused.content.decode()
    assert f'name="next" value="/sites/{site.slug}/"' in page
    assert f'href="/sites/{site.slug}/"' in page
    no_cookie = Client(enforce_csrf_checks=True).post("/hub/login/", {"username": "a"})
    assert no_cookie.status_code == 403 and b"accept this site" in no_cookie.content
    assert b'href="/hub/"' in no_cookie.content


def test_the_site_rules_decide_with_a_verb_that_agrees(site):
    from django.template.loader import render_to_string
    from django.utils import translation

    from alerts.models import AuditEvent

    ruled = AuditEvent(
        organization=site.organization,
        site=site,
        actor_label="",
        action=AuditEvent.Action.REQUEST_REJECTED,
        changes={"email": "zoe@acme.example"},
    )
    by_hand = AuditEvent(
        organization=site.organization,
        site=site,
        actor_label="Ana Admin",
        action=AuditEvent.Action.REQUEST_APPROVED,
        changes={"email": "zoe@acme.example"},
    )

    def summary(event) -> str:
        return " ".join(render_to_string("alerts/_event_summary.html", {"event": event}).split())

    assert summary(ruled) == "<strong>Site rules</strong> rejected zoe@acme.example"
    with translation.override("fr"):
        assert summary(ruled) == "<strong>Les règles du site</strong> ont rejeté zoe@acme.example"
        ruled.action = AuditEvent.Action.REQUEST_APPROVED
        assert "<strong>Les règles du site</strong> ont approuvé" in summary(ruled)
        assert summary(by_hand) == "<strong>Ana Admin</strong> a approuvé zoe@acme.example"


def test_counts_are_written_as_each_language_writes_them(client, site, full_admin):
    from signup.models import SignupRequest

    SignupRequest.objects.bulk_create(
        SignupRequest(
            site=site,
            organization=site.organization,
            email=f"p{number}@example.net",
            email_normalized=f"p{number}@example.net",
            status=SignupRequest.Status.PENDING,
        )
        for number in range(1_200)
    )
    client.force_login(full_admin)
    settings_page = visible_text(client.get(f"/hub/meetings/sites/{site.slug}/settings/").content)
    assert "1,200 requests on this site wait for review." in settings_page
    assert "1,000+" in visible_text(client.get("/hub/").content)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    # (Raw pages: visible_text would make the non-breaking space a plain one.)
    settings_page = client.get(f"/hub/meetings/sites/{site.slug}/settings/").content.decode()
    assert "1\u00a0200 demandes sur ce site attendent un examen." in settings_page
    assert "1\u00a0000+" in client.get("/hub/").content.decode()
