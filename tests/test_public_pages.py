"""The public pages of SPEC section 5: home, sign-up form, its answers and its bad input."""

import contextlib
import re

import pytest
from django.test import Client
from django.test.signals import template_rendered

from signup.models import SignupRequest, Submission
from sites.models import Site
from tests import factories
from tests.helpers import human


def signup_url(site: Site) -> str:
    return f"/sites/{site.slug}/signup/"


def post_signup(client, site, run_commits, **data):
    payload = {"email": "new.person@example.net", "first_name": "Nora", "last_name": "New"}
    payload.update(data)
    with run_commits():
        return client.post(signup_url(site), human(payload))


@pytest.mark.parametrize("visitor", ["anonymous", "signed-in person", "signed-in host"])
def test_home_shows_sign_up_only_when_allowed(client, site, visitor):
    if visitor != "anonymous":
        person = factories.PersonFactory(organization=site.organization, email="p@example.net")
        person.user = factories.UserFactory(email="p@example.net")
        person.save()
        if visitor == "signed-in host":
            factories.HostLicenseFactory(person=person, site=site)
        client.force_login(person.user)
    page = client.get(f"/sites/{site.slug}/")
    assert page.status_code == 200
    assert b">Sign up</a>" in page.content
    Site.objects.filter(pk=site.pk).update(signup_enabled=False)
    page = client.get(f"/sites/{site.slug}/")
    assert page.status_code == 200
    assert b"Sign up" not in page.content


def test_government_site_home_never_shows_sign_up(client, org):
    gov = factories.SiteFactory(organization=org, kind=Site.Kind.GOVERNMENT, signup_enabled=False)
    assert b"Sign up" not in client.get(f"/sites/{gov.slug}/").content
    response = client.get(signup_url(gov))
    assert response.status_code == 404
    assert b"Sign-up is not available" in response.content


def test_an_sso_site_takes_no_password(client, org):
    """Its people sign in through their organization's SSO: the site's own sign-in page says
    so, and a password posted to it signs nobody in, even a host of the site."""
    sso = factories.SiteFactory(organization=org, sso_enabled=True, signup_enabled=False)
    person = factories.PersonFactory(organization=org, email="host@example.net")
    person.user = factories.UserFactory(email="host@example.net")
    person.save()
    factories.HostLicenseFactory(person=person, site=sso)
    home = client.get(f"/sites/{sso.slug}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "authentification unique (SSO)" in home and "/signin/" not in home
    page = client.get(f"/sites/{sso.slug}/signin/")
    assert page.status_code == 200
    assert "single sign-on (SSO)" in page.content.decode()
    assert 'type="password"' not in page.content.decode()
    posted = client.post(
        f"/sites/{sso.slug}/signin/",
        {"username": "host@example.net", "password": factories.PASSWORD},
    )
    assert posted.status_code == 403
    assert "_auth_user_id" not in client.session
    # A session opened with the password elsewhere (another site's page, the hub) is not the
    # SSO's either: the SSO site shows nobody signed in.
    plain = factories.SiteFactory(organization=org, slug="plain")
    signed_in = client.post(
        f"/sites/{plain.slug}/signin/",
        {"username": "host@example.net", "password": factories.PASSWORD},
    )
    assert signed_in.status_code == 302
    assert "Signed in as" in client.get(f"/sites/{plain.slug}/").content.decode()
    home = client.get(f"/sites/{sso.slug}/").content.decode()
    assert "Signed in as" not in home and "You are a host" not in home
    assert "single sign-on (SSO)" in home


def test_unknown_site_is_404(client, db):
    assert client.get("/sites/nowhere/").status_code == 404
    assert client.get("/sites/nowhere/signup/").status_code == 404


def test_signup_not_allowed_is_404_with_a_clear_page(client, site):
    Site.objects.filter(pk=site.pk).update(signup_enabled=False)
    response = client.get(signup_url(site))
    assert response.status_code == 404
    assert b"Sign-up is not available" in response.content
    response = client.post(signup_url(site), human({"email": "a@example.net"}))
    assert response.status_code == 404
    assert not Submission.objects.exists()


LABELS = {
    "first_name": ["First name"],
    "last_name": ["Last name"],
    "phone": ["Phone number"],
    "company": ["Company"],
    "job_title": ["Job title"],
    "address": ["Street", "City", "State or province", "Postal code", "Country"],
    "time_zone": ["Time zone"],
    "language": ["Preferred language"],
}
ALL_LABELS = [label for labels in LABELS.values() for label in labels]


@pytest.mark.parametrize(
    "required",
    [[], ["first_name", "last_name"], ["phone", "address"], list(LABELS)],
)
def test_form_asks_for_email_and_exactly_the_required_fields(client, site, required):
    Site.objects.filter(pk=site.pk).update(required_fields=required)
    html = client.get(signup_url(site)).content.decode()
    assert re.search(r"<label for=\"id_email\">Email</label>", html)
    wanted = [label for key in required for label in LABELS[key]]
    for label in ALL_LABELS:
        shown = re.search(rf"<label for=\"id_\w+\">{label}</label>", html) is not None
        assert shown == (label in wanted), label
    assert html.count(" required") >= len(wanted) + 1
    assert re.search(r"<button[^>]*type=\"submit\"[^>]*>Sign up</button>", html)


def test_valid_submission_creates_a_request_and_thanks(client, site, run_commits):
    response = post_signup(client, site, run_commits)
    assert response.status_code == 200
    assert b"Thanks. Check your email for what happens next." in response.content
    req = SignupRequest.objects.get()
    assert (req.email, req.first_name, req.last_name) == ("new.person@example.net", "Nora", "New")
    assert req.required_fields == ["first_name", "last_name"]
    assert not Submission.objects.exists()


@contextlib.contextmanager
def _templates_rendered():
    """The names of the templates rendered in the block."""
    names = []

    def record(sender, template, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    try:
        yield names
    finally:
        template_rendered.disconnect(record)


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def test_the_answer_is_one_page_for_every_sign_up_with_its_own_token(site, run_commits):
    """The answer page is rendered once and served again with each request's CSRF token: it is a
    fresh rendering's equal, and its token is one the next POST can use."""
    from signup.pages import thanks_context, thanks_pages_forget

    thanks_pages_forget()
    strict = Client(enforce_csrf_checks=True)
    token = CSRF_INPUT.search(strict.get(signup_url(site)).content.decode()).group(1)
    pages = []
    for number in range(3):
        data = {"email": f"p{number}@example.net", "first_name": "P", "last_name": "Q"}
        with run_commits(), _templates_rendered() as rendered:
            answer = strict.post(signup_url(site), human({**data, "csrfmiddlewaretoken": token}))
        assert answer.status_code == 200
        # Only the first answer goes through the template engine.
        assert ("signup/thanks.html" in rendered) == (number == 0)
        pages.append(answer.content.decode())
        token = CSRF_INPUT.search(pages[-1]).group(1)
    assert SignupRequest.objects.count() == 3
    assert len({CSRF_INPUT.search(page).group(1) for page in pages}) == 3
    blank = [CSRF_INPUT.sub("", page) for page in pages]
    assert blank[0] == blank[1] == blank[2]
    assert "Thanks. Check your email for what happens next." in blank[0]
    # Switching language goes to the home page: the sign-up's address shows an empty form.
    assert f'name="next" value="/sites/{site.slug}/"' in blank[0]
    # What the template engine gives for the same request, with no page kept.
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    request = RequestFactory().post(signup_url(site))
    fresh = render_to_string("signup/thanks.html", thanks_context(site), request)
    assert CSRF_INPUT.sub("", fresh) == blank[0]


def test_the_answer_page_follows_the_language_the_site_and_the_address(client, site, run_commits):
    from signup.pages import thanks_pages_forget

    thanks_pages_forget()
    english = post_signup(client, site, run_commits, email="en@example.net").content.decode()
    with run_commits():
        french = client.post(
            signup_url(site),
            human({"email": "fr@example.net", "first_name": "F", "last_name": "R"}),
            HTTP_ACCEPT_LANGUAGE="fr",
        ).content.decode()
    assert '<html lang="en">' in english and '<html lang="fr">' in french
    assert "Merci. Consultez votre messagerie" in french
    Site.objects.filter(pk=site.pk).update(name="Acme Meetings")
    renamed = post_signup(client, site, run_commits, email="re@example.net").content.decode()
    assert "Acme Meetings" in renamed and "Acme Meetings" not in english
    with run_commits():
        asked = client.post(
            signup_url(site) + "?from=<home>",
            human({"email": "q@example.net", "first_name": "Q", "last_name": "S"}),
        ).content.decode()
    assert f'name="next" value="/sites/{site.slug}/"' in asked and "<home>" not in asked


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": ""}, "email", "This field is required."),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"email": "a@b"}, "email", "Enter a valid email address."),
        ({"email": "a" * 300 + "@example.net"}, "email", "at most 254"),
        ({"email": "x@" + "a." * 200 + "com"}, "email", ""),
        ({"email": "a@example.net\r\nBcc: victim@example.org"}, "email", ""),
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"first_name": "   "}, "first_name", "This field is required."),
        ({"first_name": "Eve\r\nBcc: x@example.org"}, "first_name", "line breaks"),
        ({"last_name": "Nul\x00byte"}, "last_name", "Null characters are not allowed."),
        ({"last_name": "L" * 5000}, "last_name", "at most 100"),
    ],
)
def test_invalid_input_shows_the_form_again_with_errors(client, site, data, field, message):
    payload = {"email": "ok@example.net", "first_name": "Ok", "last_name": "Fine"} | data
    response = client.post(signup_url(site), human(payload))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    html = response.content.decode()
    assert 'class="field-error"' in html
    # Announced at once to screen readers, before the fields.
    assert '<div class="alert alert-error" role="alert">' in html
    assert "Correct the errors below." in html
    # The other values are kept.
    for name, value in payload.items():
        if name != field and value:
            assert f'value="{value}"' in html
    assert not Submission.objects.exists()


def test_all_fields_submission_is_stored(client, site, run_commits):
    Site.objects.filter(pk=site.pk).update(required_fields=list(LABELS))
    data = {
        "email": "full@example.net",
        "first_name": "Fay",
        "last_name": "Full",
        "phone": "+33 1 23 45 67 89",
        "company": "Full & Co",
        "job_title": "Engineer",
        "street": "1 rue de la Paix",
        "city": "Paris",
        "state": "Île-de-France",
        "postal_code": "75002",
        "country": "FR",
        "time_zone": "Europe/Paris",
        "preferred_language": "fr",
    }
    with run_commits():
        response = client.post(signup_url(site), human(data))
    assert response.status_code == 200
    req = SignupRequest.objects.get()
    assert req.fields["city"] == "Paris" and req.fields["preferred_language"] == "fr"
    assert req.required_fields == list(LABELS)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "call me"),
        ("country", "XX"),
        ("time_zone", "Mars/Olympus"),
        ("preferred_language", "tlh"),
    ],
)
def test_choice_and_phone_fields_refuse_bad_values(client, site, field, value):
    Site.objects.filter(pk=site.pk).update(required_fields=list(LABELS))
    response = client.post(signup_url(site), human({"email": "a@example.net", field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("charset", ["latin-1", "utf-16"])
def test_a_form_not_in_utf8_is_a_bad_request_not_an_error(site, settings, debug, charset):
    """Django refuses a form body in another encoding; with DEBUG on (`make run`) its error page
    read the body again and answered 500."""
    settings.DEBUG = debug
    answer = Client(raise_request_exception=False).generic(
        "POST",
        signup_url(site),
        b"email=a%E9b%40example.net&first_name=x",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert answer.status_code == 400
    assert not Submission.objects.exists()


@pytest.mark.parametrize("debug", [False, True])
def test_a_form_posted_without_the_final_slash_is_sent_on_with_its_fields(
    site, settings, run_commits, debug
):
    """308 keeps the method and the body (Django's 301 loses the form; with DEBUG on it was a
    500 page)."""
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    data = human({"email": "slash@example.net", "first_name": "S", "last_name": "L"})
    answer = client.post(signup_url(site).rstrip("/"), data)
    assert answer.status_code == 308 and answer.headers["Location"] == signup_url(site)
    with run_commits():
        followed = client.post(signup_url(site).rstrip("/"), data, follow=True)
    assert followed.status_code == 200
    assert followed.redirect_chain == [(signup_url(site), 308)]
    assert b"Thanks. Check your email" in followed.content
    assert Submission.objects.count() + SignupRequest.objects.count() == 1
    assert client.get(f"/sites/{site.slug}").status_code == 308


def test_post_without_csrf_token_is_403(site):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        signup_url(site), {"email": "a@example.net", "first_name": "A", "last_name": "B"}
    )
    assert response.status_code == 403
    assert not Submission.objects.exists()


def test_language_follows_accept_language_and_is_stored(client, site, run_commits):
    page = client.get(signup_url(site), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert page.headers["Content-Language"] == "fr"
    with run_commits():
        client.post(
            signup_url(site),
            human({"email": "fr@example.net", "first_name": "Fr", "last_name": "Ançais"}),
            HTTP_ACCEPT_LANGUAGE="fr",
        )
    assert SignupRequest.objects.get().language == "fr"


def test_language_switcher_sets_the_language(client, site):
    response = client.post("/i18n/setlang/", {"language": "fr", "next": f"/sites/{site.slug}/"})
    assert response.status_code == 302
    assert client.get(f"/sites/{site.slug}/").headers["Content-Language"] == "fr"


def test_every_page_switches_language_and_comes_back_to_itself(client, site):
    page = f"/sites/{site.slug}/signup/?from=<home>"
    html = client.get(page, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    form = html[html.index('<form class="lang-switch"') :]
    form = form[: form.index("</form>")]
    assert 'action="/i18n/setlang/"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    # The return address is escaped; the active language is the one marked current.
    assert (
        'name="next" value="/sites/acme/signup/?from=%3Chome%3E"'.replace("acme", site.slug) in form
    )
    assert 'value="fr" lang="fr" aria-describedby="lang-label" aria-current="true"' in form
    assert 'value="en" lang="en" aria-describedby="lang-label">English</button>' in form
    assert ">Langue</span>" in form
    next_page = client.post("/i18n/setlang/", {"language": "en", "next": page})
    assert next_page.status_code == 302
    assert client.get(next_page.url).headers["Content-Language"] == "en"


def test_the_public_site_lookup_reads_what_the_orm_reads(site, django_assert_num_queries):
    from signup.selectors import PUBLIC_SITE_FIELDS, public_site

    Site.objects.filter(pk=site.pk).update(signup_enabled=True, required_fields=["phone"])
    expected = Site.objects.select_related("organization").get(pk=site.pk)
    with django_assert_num_queries(1):
        found = public_site(site.slug)
        assert [getattr(found, name) for name in PUBLIC_SITE_FIELDS] == [
            getattr(expected, name) for name in PUBLIC_SITE_FIELDS
        ]
        assert found.organization.name == expected.organization.name
        assert found.signup_allowed is True
    # What the pages don't read is deferred, not wrong: it loads on first use.
    with django_assert_num_queries(1):
        assert found.mode == expected.mode
    with django_assert_num_queries(1):
        assert found.organization.slug == expected.organization.slug
    assert public_site("no-such-site") is None
    assert public_site("acme' OR '1'='1") is None


def test_public_pages_answer_head_like_get(client, site):
    for path in [f"/sites/{site.slug}/", signup_url(site), f"/sites/{site.slug}/signin/"]:
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""


def test_every_described_by_points_at_an_element_of_the_page(client, site):
    html = client.post(signup_url(site), {"email": "not-an-address"}).content.decode()
    described = {
        name for ids in re.findall(r'aria-describedby="([^"]+)"', html) for name in ids.split()
    }
    assert "id_email_error" in described
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    assert described <= ids, described - ids


def test_a_failed_sign_in_reads_well_in_french(client, site):
    html = client.post(
        f"/sites/{site.slug}/signin/",
        {"username": "nobody@example.net", "password": "wrong"},
        HTTP_ACCEPT_LANGUAGE="fr",
    ).content.decode()
    assert "Saisissez une adresse électronique et un mot de passe valides (le mot de" in html


@pytest.mark.parametrize("path", ["/hub/login/", "/sites/{slug}/signin/"])
def test_sign_in_fields_name_their_purpose_for_autofill(client, site, path):
    """WCAG 1.3.5: the email of a sign-in form is the account's user name."""
    html = client.get(path.format(slug=site.slug)).content.decode()
    assert re.search(r'<input type="email" name="username"[^>]*autocomplete="username"', html)
    assert re.search(r'<input type="password"[^>]*autocomplete="current-password"', html)


def test_sign_up_fields_name_their_purpose_for_autofill(client, site):
    """WCAG 1.3.5, with the tokens the HTML standard allows on each kind of control."""
    Site.objects.filter(pk=site.pk).update(required_fields=list(LABELS))
    html = client.get(signup_url(site)).content.decode()
    for name, token in [
        ("first_name", "given-name"),
        ("street", "address-line1"),  # "street-address" is for a textarea
        ("postal_code", "postal-code"),
        ("country", "country"),
        ("preferred_language", "language"),
    ]:
        tag = re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', html).group(0)
        assert f'autocomplete="{token}"' in tag, name
    # Languages are named in their own language, and say which.
    assert '<option value="de" lang="de">Deutsch</option>' in html
    assert '<option value="FR">' in html  # countries are named in the page's language


def test_the_error_page_fits_a_phone(client):
    from django.template.loader import render_to_string

    assert 'name="viewport"' in render_to_string("500.html")
