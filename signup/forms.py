"""Public forms: sign-up (the fields each site requires), activation and host sign-in."""

import re
import time
import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core import signing
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from signup.models import language_name
from sites.domains import (
    CONTROL_CHARACTERS,
    InvalidDomain,
    display_email,
    normalize_email,
    validate_address,
)
from sites.models import Site

_PHONE = re.compile(r"^\+?[0-9 ()./-]{4,30}$")

PREFERRED_LANGUAGES = ["en", "fr", "de", "es", "it", "pt", "nl", "ja", "ko", "zh-hans", "ru"]


def reject_control_characters(value: str) -> None:
    if CONTROL_CHARACTERS.search(value):
        raise forms.ValidationError(_("Remove line breaks and control characters."))


class TextField(forms.CharField):
    """A one-line text field: trimmed, bounded, without control characters."""

    def __init__(self, *, label: str, max_length: int = 100, autocomplete: str = "", **kwargs):
        super().__init__(
            label=label, max_length=max_length, validators=[reject_control_characters], **kwargs
        )
        if autocomplete:
            self.widget.attrs["autocomplete"] = autocomplete


def _validate_phone(value: str) -> None:
    if not _PHONE.match(value) or sum(ch.isdigit() for ch in value) < 4:
        raise forms.ValidationError(_("Enter a phone number, for example +1 408 555 0100."))


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z and "Etc" not in z)
    return [("", "—"), *((z, z.replace("_", " ")) for z in zones), ("UTC", "UTC")]


def language_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(code, language_name(code)) for code in PREFERRED_LANGUAGES]


def country_choices() -> list[tuple[str, str]]:
    return [("", "—"), *((code, name) for code, name in countries)]


class LongSelect(forms.Select):
    """A select for long option lists (countries, time zones), rendered in Python: Django's
    per-option templates would cost a sign-up page a tenth of a second."""

    # Options named in their own language (languages) say so, for screen readers.
    options_in_their_language = False

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        if self.is_required:
            final["required"] = True
        selected = {str(v) for v in self.format_value(value)}
        options = format_html_join(
            "",
            '<option value="{}"{}{}>{}</option>',
            (
                (
                    code,
                    # Constant attributes: escaping leaves them as they are.
                    " selected" if str(code) in selected else "",
                    format_html(' lang="{}"', code)
                    if code and self.options_in_their_language
                    else "",
                    label,
                )
                for code, label in self.choices
            ),
        )
        return format_html("<select{}>{}</select>", flatatt(final), options)


class LanguageSelect(LongSelect):
    options_in_their_language = True


def _choice(label: str, choices, autocomplete: str = "", widget=LongSelect) -> forms.ChoiceField:
    attrs = {"autocomplete": autocomplete} if autocomplete else {}
    return forms.ChoiceField(label=label, choices=choices, widget=widget(attrs=attrs))


def _field_for(key: str) -> list[tuple[str, forms.Field]]:
    """The form fields one requirable setting adds (address adds five)."""
    if key == "first_name":
        return [(key, TextField(label=_("First name"), autocomplete="given-name"))]
    if key == "last_name":
        return [(key, TextField(label=_("Last name"), autocomplete="family-name"))]
    if key == "phone":
        phone = TextField(label=_("Phone number"), max_length=30, autocomplete="tel")
        phone.validators.append(_validate_phone)
        return [(key, phone)]
    if key == "company":
        return [(key, TextField(label=_("Company"), max_length=200, autocomplete="organization"))]
    if key == "job_title":
        return [(key, TextField(label=_("Job title"), autocomplete="organization-title"))]
    if key == "address":
        return [
            ("street", TextField(label=_("Street"), max_length=200, autocomplete="address-line1")),
            ("city", TextField(label=_("City"), autocomplete="address-level2")),
            ("state", TextField(label=_("State or province"), autocomplete="address-level1")),
            (
                "postal_code",
                TextField(label=_("Postal code"), max_length=20, autocomplete="postal-code"),
            ),
            ("country", _choice(_("Country"), country_choices, autocomplete="country")),
        ]
    if key == "time_zone":
        return [(key, _choice(_("Time zone"), time_zone_choices))]
    if key == "language":
        return [
            (
                "preferred_language",
                _choice(
                    _("Preferred language"),
                    language_choices,
                    autocomplete="language",
                    widget=LanguageSelect,
                ),
            )
        ]
    return []


class AddressInput(forms.EmailInput):
    """Shows an address back with its domain in Unicode, as the person typed it (the browser
    sends it in its A-label form)."""

    def format_value(self, value):
        value = super().format_value(value)
        return display_email(value) if value else value


class AddressField(forms.EmailField):
    """An email address `validate_address` takes; a trailing dot after the domain
    (`bob@acme.com.`) is dropped."""

    widget = AddressInput
    default_validators = [validate_address]

    def to_python(self, value: str | None) -> str:
        value = super().to_python(value)
        return value[:-1] if value.endswith(".") else value


class EmptyTextInput(forms.TextInput):
    """A text input that never shows a value back (the honeypot)."""

    def format_value(self, value):
        return None


STARTED_SALT = "signup.form-started"
ANTI_ABUSE_FIELDS = ("website", "started")


# A form sent back with a start time older than this gets the form again, with a new one: one
# page's start time can't serve a script for ever, and a person who left the page open for
# hours sends it again.
STARTED_MAX_AGE = 6 * 3600


def started_now() -> str:
    """The form's signed start time: a reply sooner than a person could type is ignored."""
    return signing.dumps(time.time(), salt=STARTED_SALT)


class SignupForm(forms.Form):
    """Email always, plus exactly the fields the site requires, each required.

    Hidden checks tell scripts from people without bothering people: a honeypot field that
    only a script fills in and, when SIGNUP_MIN_FILL_SECONDS is set, the time since the form
    was shown. A submission failing them gets the same answer as everyone, and nothing is made
    of it."""

    email = AddressField(
        label=_("Email"),
        max_length=254,
        widget=AddressInput(attrs={"autocomplete": "email"}),
    )
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        max_length=200,
        widget=EmptyTextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    # Signed when the form is shown (a callable initial is not evaluated for a POST).
    started = forms.CharField(
        required=False, max_length=200, widget=forms.HiddenInput, initial=started_now
    )

    def __init__(self, *args, site: Site, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site
        for key in site.required_fields:
            for name, field in _field_for(key):
                field.required = True
                self.fields[name] = field

    @property
    def visible_fields_for_people(self) -> list:
        return [f for f in self.visible_fields() if f.name not in ANTI_ABUSE_FIELDS]

    def clean(self) -> dict:
        cleaned = super().clean()
        if settings.SIGNUP_MIN_FILL_SECONDS <= 0 or cleaned.get("website"):
            return cleaned
        shown_at = self._shown_at()
        if shown_at is not None and time.time() - shown_at > STARTED_MAX_AGE:
            # The form shown again carries a new start time, as a new page would: a script
            # can't turn an old one into one it may send at once.
            self.data = self.data.copy()
            self.data[self.add_prefix("started")] = started_now()
            raise forms.ValidationError(
                _("This page was open for a long time: check the form, then send it again."),
                code="stale",
            )
        return cleaned

    def _shown_at(self) -> float | None:
        """When the form was shown, from its signed start time; None when there is none."""
        try:
            shown_at = signing.loads(self.cleaned_data.get("started", ""), salt=STARTED_SALT)
        except signing.BadSignature:
            return None
        return shown_at if isinstance(shown_at, (int, float)) else None

    @property
    def looks_automated(self) -> bool:
        """Honeypot filled or, with a minimum fill time, sent back sooner than that (or with no
        valid start time)."""
        if self.cleaned_data.get("website"):
            return True
        if settings.SIGNUP_MIN_FILL_SECONDS <= 0:
            return False
        shown_at = self._shown_at()
        return shown_at is None or time.time() - shown_at < settings.SIGNUP_MIN_FILL_SECONDS

    def submitted_fields(self) -> dict[str, str]:
        """Every field but the email and the anti-abuse ones, as submitted (trimmed)."""
        skip = ("email", *ANTI_ABUSE_FIELDS)
        return {name: value for name, value in self.cleaned_data.items() if name not in skip}


class ActivationForm(forms.Form):
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html,
    )
    password2 = forms.CharField(
        label=_("Confirmation"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict:
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords don't match."))
        elif first:
            from orgs.models import User

            try:
                password_validation.validate_password(first, User(email=self.email))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class SigninForm(AuthenticationForm):
    """Email and password; the email is compared in its normalized form."""

    error_messages = {
        **AuthenticationForm.error_messages,
        # Django's says "a correct %(username)s", which French grammar can't take for a field
        # named "adresse électronique".
        # The address is not case-sensitive (it is normalized); the password is.
        "invalid_login": _(
            "Enter a correct email address and password (the password is case-sensitive)."
        ),
    }

    username = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=AddressInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    def clean_username(self) -> str:
        try:
            return normalize_email(self.cleaned_data["username"])
        except InvalidDomain as exc:
            raise forms.ValidationError(_("Enter a valid email address.")) from exc
