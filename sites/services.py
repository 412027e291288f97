"""Writes to sites: the Account Management settings and their domain patterns."""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alerts.audit import audit_record
from alerts.models import AuditEvent
from orgs.models import User
from selfsignup.queueing import enqueue_on_commit
from sites.domains import (
    InvalidDomain,
    Pattern,
    WholeTopLevelDomain,
    normalize_email,
    parse_pattern,
    validate_address,
)
from sites.models import (
    MAX_NOTIFY_ADDRESSES,
    MAX_PATTERNS_A_LIST,
    REQUIRABLE_FIELD_KEYS,
    DomainPattern,
    Site,
)


class SettingsInvalid(Exception):
    """The settings can't be saved; `errors` maps a setting's name to messages for people."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class SettingsChanged(Exception):
    """Someone saved the site's settings after the page being sent was shown: saving it would
    undo their save without anyone having seen it."""

    def __init__(self, site: Site):
        super().__init__(site.pk)
        self.site = site


def settings_version(site: Site) -> str:
    """What a settings page sends back to say which save it was shown after ("" before any)."""
    return site.settings_updated_at.isoformat() if site.settings_updated_at else ""


@dataclass
class SettingsValues:
    """Account Management settings as entered (pattern lists and addresses not yet parsed)."""

    signup_enabled: bool = False
    approve_entries: list[str] = field(default_factory=list)
    reject_entries: list[str] = field(default_factory=list)
    mode: str = Site.Mode.REVIEW
    other_domains: str = Site.OtherDomains.APPROVE
    notify: str = Site.Notify.FULL_ADMINS
    notify_addresses: list[str] = field(default_factory=list)
    require_confirmation: bool = True
    required_fields: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, site: Site) -> "SettingsValues":
        """The site's current settings, as the form would show them."""
        patterns = list(site.patterns.all())
        return cls(
            signup_enabled=site.signup_enabled,
            approve_entries=[
                p.pattern for p in patterns if p.action == DomainPattern.Action.APPROVE
            ],
            reject_entries=[p.pattern for p in patterns if p.action == DomainPattern.Action.REJECT],
            mode=site.mode,
            other_domains=site.other_domains,
            notify=site.notify,
            notify_addresses=list(site.notify_addresses),
            require_confirmation=site.require_confirmation,
            required_fields=list(site.required_fields),
        )


@dataclass
class ParsedSettings:
    values: SettingsValues
    approve: list[Pattern]
    reject: list[Pattern]
    notify_addresses: list[str]


def parse_pattern_entries(entries: list[str]) -> tuple[list[Pattern], list[str]]:
    """Parse entries into unique patterns; also return the messages for the bad ones."""
    patterns: dict[str, Pattern] = {}
    errors = []
    for entry in entries:
        try:
            pattern = parse_pattern(entry)
        except WholeTopLevelDomain:
            errors.append(
                _("“%(entry)s” would cover a whole top-level domain: name a domain under it.")
                % {"entry": entry[:100]}
            )
            continue
        except InvalidDomain:
            errors.append(
                _("“%(entry)s” is not a valid domain or pattern (example.com or *.example.com).")
                % {"entry": entry[:100]}
            )
            continue
        patterns.setdefault(pattern.text, pattern)
    return list(patterns.values()), errors


def parse_notify_addresses(entries: list[str]) -> tuple[list[str], list[str]]:
    addresses: dict[str, str] = {}
    errors = []
    for entry in entries:
        try:
            validate_address(entry)
            addresses.setdefault(normalize_email(entry), entry.strip())
        except (ValidationError, InvalidDomain):
            errors.append(_("“%(entry)s” is not a valid email address.") % {"entry": entry[:100]})
    return list(addresses.values()), errors


def settings_validate(*, site: Site, values: SettingsValues) -> ParsedSettings:
    """Check every rule of SPEC section 3; raise SettingsInvalid naming what is wrong."""
    errors: dict[str, list[str]] = {}
    if values.signup_enabled and not site.signup_supported:
        errors["signup_enabled"] = [site.unsupported_reason]
    approve, approve_errors = parse_pattern_entries(values.approve_entries)
    reject, reject_errors = parse_pattern_entries(values.reject_entries)
    for name, patterns, bad in [
        ("approve_entries", approve, approve_errors),
        ("reject_entries", reject, reject_errors),
    ]:
        if len(patterns) > MAX_PATTERNS_A_LIST:
            bad = [
                _("At most %(max)s domains a list (this one has %(count)s).")
                % {
                    "max": number_format(MAX_PATTERNS_A_LIST, force_grouping=True),
                    "count": number_format(len(patterns), force_grouping=True),
                },
                *bad,
            ]
        if bad:
            errors[name] = bad
    both = sorted({p.text for p in approve} & {p.text for p in reject})
    if both:
        errors.setdefault("reject_entries", []).extend(
            _("%(pattern)s can't be on both lists: choose approve or reject.")
            % {"pattern": Pattern(p.removeprefix("*."), p.startswith("*.")).display}
            for p in both
        )
    if values.mode not in Site.Mode.values:
        errors["mode"] = [_("Choose a mode.")]
    if values.other_domains not in Site.OtherDomains.values:
        errors["other_domains"] = [_("Choose what happens to requests from other domains.")]
    if values.notify not in Site.Notify.values:
        errors["notify"] = [_("Choose who gets the review notification email.")]
    addresses, address_errors = parse_notify_addresses(values.notify_addresses)
    if address_errors:
        errors["notify_addresses"] = address_errors
    elif len(addresses) > MAX_NOTIFY_ADDRESSES or (
        values.notify == Site.Notify.ADDRESSES and not addresses
    ):
        errors["notify_addresses"] = [
            _("Enter between 1 and %(max)d email addresses.") % {"max": MAX_NOTIFY_ADDRESSES}
        ]
    unknown = [f for f in values.required_fields if f not in REQUIRABLE_FIELD_KEYS]
    if unknown:
        errors["required_fields"] = [_("Unknown field: %(field)s.") % {"field": unknown[0][:50]}]
    if errors:
        raise SettingsInvalid({name: _first_errors(messages) for name, messages in errors.items()})
    return ParsedSettings(values=values, approve=approve, reject=reject, notify_addresses=addresses)


# A field shows its first errors and how many more: a pasted list of 5,000 bad entries would
# make a page of 5,000 lines.
ERRORS_SHOWN = 20


def _first_errors(messages: list[str]) -> list[str]:
    more = len(messages) - ERRORS_SHOWN
    if more <= 0:
        return messages
    return [
        *messages[:ERRORS_SHOWN],
        ngettext(
            "and %(count)s more entry like these", "and %(count)s more entries like these", more
        )
        % {"count": number_format(more, force_grouping=True)},
    ]


def _scalar_settings(parsed: ParsedSettings) -> dict[str, object]:
    values = parsed.values
    return {
        "signup_enabled": values.signup_enabled,
        "mode": values.mode,
        "other_domains": values.other_domains,
        "notify": values.notify,
        # Kept whatever the choice, so switching away and back doesn't lose the list.
        "notify_addresses": parsed.notify_addresses,
        "require_confirmation": values.require_confirmation,
        "required_fields": [f for f in REQUIRABLE_FIELD_KEYS if f in values.required_fields],
    }


def _replace_patterns(site: Site, parsed: ParsedSettings) -> dict[str, list[str]]:
    """Make the site's patterns equal to the parsed lists; return what was added and removed."""
    wanted = {p.text: (p, DomainPattern.Action.APPROVE) for p in parsed.approve}
    wanted |= {p.text: (p, DomainPattern.Action.REJECT) for p in parsed.reject}
    current = {row.pattern: row for row in site.patterns.all()}
    removed = [
        text for text, row in current.items() if text not in wanted or wanted[text][1] != row.action
    ]
    site.patterns.filter(pattern__in=removed).delete()
    added = [text for text in wanted if text not in current or text in removed]
    DomainPattern.objects.bulk_create(
        DomainPattern(
            site=site,
            pattern=text,
            suffix=wanted[text][0].suffix,
            wildcard=wanted[text][0].wildcard,
            action=wanted[text][1],
        )
        for text in added
    )
    changes = {}
    if added:
        changes["patterns_added"] = [f"{wanted[t][1]}:{t}" for t in sorted(added)]
    if removed:
        changes["patterns_removed"] = [f"{current[t].action}:{t}" for t in sorted(removed)]
    return changes


# The settings that decide requests: saving new ones asks whether pending requests follow them.
RULE_SETTINGS = {"mode", "other_domains", "patterns_added", "patterns_removed"}


def site_settings_update(
    *,
    site_id: int,
    acting_user: User | None,
    values: SettingsValues,
    decide_pending: bool = False,
    seen_version: str | None = None,
) -> Site:
    """Save a site's Account Management settings and record what changed in the audit trail.

    With `decide_pending`, the saved rules then decide the site's pending requests: the wish is
    stored with the settings (and audited), and a task carries it out after the commit. With
    `seen_version` (from the page), nothing is saved if the settings were saved since: raises
    SettingsChanged."""
    with transaction.atomic():
        # The lock an UPDATE of the settings takes: rows that point at the site (a decision's
        # audit record, a host license) don't wait for it, so a decision that holds a request
        # the save refreshes can finish, rather than each waiting for the other.
        site = Site.objects.select_for_update(no_key=True).get(pk=site_id)
        if seen_version is not None and _saved_by_others_since(site, seen_version, acting_user):
            raise SettingsChanged(site)
        parsed = settings_validate(site=site, values=values)
        changes: dict[str, object] = {}
        for name, new in _scalar_settings(parsed).items():
            old = getattr(site, name)
            if old != new:
                changes[name] = [old, new]
                setattr(site, name, new)
        changed_fields = list(changes)
        changes |= _replace_patterns(site, parsed)
        if decide_pending:
            from alerts.tasks import apply_rules_to_pending

            site.rules_apply_requested_at = timezone.now()
            changed_fields.append("rules_apply_requested_at")
            changes["decide_pending"] = True
            enqueue_on_commit(apply_rules_to_pending, site.pk)
        elif site.rules_apply_requested_at and RULE_SETTINGS.intersection(changes):
            # New rules saved with "keep": an earlier wish not carried out yet is withdrawn.
            site.rules_apply_requested_at = None
            changed_fields.append("rules_apply_requested_at")
        if changes:
            site.settings_updated_at = timezone.now()
            site.settings_updated_by = acting_user
            site.save(update_fields=[*changed_fields, "settings_updated_at", "settings_updated_by"])
            if RULE_SETTINGS.intersection(changes):
                from alerts.services import held_requests_refresh

                held_requests_refresh(site=site)
            audit_record(
                organization_id=site.organization_id,
                site=site,
                actor=acting_user,
                action=AuditEvent.Action.SETTINGS_UPDATED,
                changes=changes,
                at=site.settings_updated_at,  # the settings' version: see below
            )
    return site


def _saved_by_others_since(site: Site, seen_version: str, acting_user: User | None) -> bool:
    """Whether anyone but `acting_user` saved the settings after the version a page showed.

    The administrator's own later saves don't make their page stale (a second tab, the Back
    button, a form posted twice): it is someone else's changes that they would undo unseen. Each
    save's audit event carries the version it made."""
    if seen_version == settings_version(site):
        return False
    try:
        seen = datetime.fromisoformat(seen_version) if seen_version else None
    except ValueError:
        return True  # not a version this product wrote: show the settings now saved
    if seen is not None and seen.tzinfo is None:
        return True  # nor is a time without its zone
    saves = AuditEvent.objects.filter(site=site, action=AuditEvent.Action.SETTINGS_UPDATED)
    if seen is not None:
        saves = saves.filter(created_at__gt=seen)
    if acting_user is not None:
        saves = saves.exclude(actor=acting_user)
    return saves.exists()
