"""The Account Management settings form and the "Test an address" box."""

from django import forms
from django.utils.translation import gettext_lazy as _

from signup.forms import AddressField
from sites.domains import display_domain, split_entries
from sites.models import REQUIRABLE_FIELDS, Site
from sites.services import ParsedSettings, SettingsInvalid, SettingsValues, settings_validate

PATTERN_HELP = _(
    "One a line (commas also separate): example.com, or *.example.com for its subdomains."
)

OTHER_DOMAIN_CHOICES = [
    (Site.OtherDomains.APPROVE, _("Approve them")),
    (Site.OtherDomains.REJECT, _("Reject them")),
]


def _textarea(rows: int = 4) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "spellcheck": "false", "class": "input"})


# Room for MAX_PATTERNS_A_LIST domains of ordinary length (100 characters each) with their line
# breaks (CRLF from a browser): past this, the list's own count limit would never be reached.
PATTERN_LIST_MAX_LENGTH = 1_100_000
# The largest body of a settings form within those lengths: both lists percent-encoded (up to
# twelve bytes a character), and room for the rest.
SETTINGS_FORM_MAX_BYTES = 2 * PATTERN_LIST_MAX_LENGTH * 12 + 1_000_000


class SiteSettingsForm(forms.Form):
    """Every setting of SPEC section 3, labelled with the setting's name."""

    signup_enabled = forms.BooleanField(label=_("Allow host account sign-up"), required=False)
    approve_entries = forms.CharField(
        label=_("Email domains to automatically approve"),
        required=False,
        max_length=PATTERN_LIST_MAX_LENGTH,
        widget=_textarea(),
        help_text=PATTERN_HELP,
    )
    reject_entries = forms.CharField(
        label=_("Email domains to automatically reject"),
        required=False,
        max_length=PATTERN_LIST_MAX_LENGTH,
        widget=_textarea(),
        help_text=PATTERN_HELP,
    )
    mode = forms.ChoiceField(label=_("Mode"), choices=Site.Mode.choices, widget=forms.RadioSelect)
    other_domains = forms.ChoiceField(
        label=_("Requests from other domains (automatic mode only)"),
        choices=OTHER_DOMAIN_CHOICES,
        widget=forms.RadioSelect,
        help_text=_("In automatic mode, for addresses that match neither list."),
    )
    notify = forms.ChoiceField(
        label=_("Send review notification email to"),
        choices=Site.Notify.choices,
        widget=forms.RadioSelect,
    )
    notify_addresses = forms.CharField(
        label=_("Email addresses (1 to 30)"),
        required=False,
        max_length=20_000,
        widget=_textarea(3),
        help_text=_("One a line, or separated by commas."),
    )
    require_confirmation = forms.BooleanField(
        label=_("Require email confirmation before review"), required=False
    )
    required_fields = forms.MultipleChoiceField(
        label=_("Require for account creation"),
        choices=REQUIRABLE_FIELDS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, site: Site, **kwargs):
        current = SettingsValues.of(site)
        kwargs.setdefault(
            "initial",
            {
                "signup_enabled": current.signup_enabled,
                "approve_entries": "\n".join(display_domain(p) for p in current.approve_entries),
                "reject_entries": "\n".join(display_domain(p) for p in current.reject_entries),
                "mode": current.mode,
                "other_domains": current.other_domains,
                "notify": current.notify,
                "notify_addresses": "\n".join(current.notify_addresses),
                "require_confirmation": current.require_confirmation,
                "required_fields": current.required_fields,
            },
        )
        super().__init__(*args, **kwargs)
        self.site = site
        self.parsed: ParsedSettings | None = None
        if not site.signup_supported:
            # Shown disabled; a forged POST that turns it on still reaches the service's check.
            self.fields["signup_enabled"].widget.attrs["disabled"] = True

    def values(self) -> SettingsValues:
        data = self.cleaned_data
        return SettingsValues(
            signup_enabled=data["signup_enabled"],
            approve_entries=split_entries(data["approve_entries"]),
            reject_entries=split_entries(data["reject_entries"]),
            mode=data["mode"],
            other_domains=data["other_domains"],
            notify=data["notify"],
            notify_addresses=split_entries(data["notify_addresses"]),
            require_confirmation=data["require_confirmation"],
            required_fields=data["required_fields"],
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.parsed = settings_validate(site=self.site, values=self.values())
        except SettingsInvalid as exc:
            for field, messages in exc.errors.items():
                self.add_error(field, messages)
        return cleaned


class AddressTestForm(forms.Form):
    address = AddressField(label=_("Test an address"), max_length=254)
