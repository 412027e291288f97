"""Audit events' `changes`, described for people in the active language."""

from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alerts.models import AuditEvent
from sites.domains import display_domain
from sites.models import REQUIRABLE_FIELDS, Site

SETTING_LABELS = {
    "signup_enabled": Site._meta.get_field("signup_enabled").verbose_name,
    "mode": Site._meta.get_field("mode").verbose_name,
    "other_domains": Site._meta.get_field("other_domains").verbose_name,
    "notify": Site._meta.get_field("notify").verbose_name,
    "notify_addresses": Site._meta.get_field("notify").verbose_name,
    "require_confirmation": Site._meta.get_field("require_confirmation").verbose_name,
    "required_fields": Site._meta.get_field("required_fields").verbose_name,
}
CHOICE_LABELS = {
    **dict(Site.Mode.choices),
    **dict(Site.Notify.choices),
    **dict(Site.OtherDomains.choices),
    **{key: label for key, label in REQUIRABLE_FIELDS},
}


def _value(value: object) -> str:
    if isinstance(value, bool):
        return _("on") if value else _("off")
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) or "—"
    if isinstance(value, str):
        return str(CHOICE_LABELS.get(value, value))
    return str(value)


def _pattern(entry: str) -> str:
    action, _sep, pattern = entry.partition(":")
    what = _("approve") if action == "approve" else _("reject")
    return f"{display_domain(pattern)} ({what})"


# Domain changes shown per event: a save of 10,000 domains would otherwise fill the trail's page
# (the event keeps them all).
PATTERN_LINES = 20


def _pattern_lines(added: list, removed: list) -> list[str]:
    lines = [_("Added %(p)s") % {"p": _pattern(e)} for e in added[:PATTERN_LINES]]
    room = PATTERN_LINES - len(lines)
    lines += [_("Removed %(p)s") % {"p": _pattern(e)} for e in removed[:room]]
    more = len(added) + len(removed) - len(lines)
    if more:
        lines.append(
            ngettext("and %(count)s more domain change", "and %(count)s more domain changes", more)
            % {"count": number_format(more, force_grouping=True)}
        )
    return lines


def describe(event: AuditEvent) -> list[str]:
    changes = event.changes or {}
    lines = []
    if event.action == AuditEvent.Action.SETTINGS_UPDATED:
        for key, label in SETTING_LABELS.items():
            if key in changes:
                old, new = changes[key]
                values = {"label": capfirst(label), "old": _value(old), "new": _value(new)}
                lines.append(_("%(label)s: %(old)s → %(new)s") % values)
        lines += _pattern_lines(
            changes.get("patterns_added", []), changes.get("patterns_removed", [])
        )
        if changes.get("decide_pending"):
            lines.append(_("Asked for the pending requests to be decided by these rules"))
    elif event.action in (AuditEvent.Action.REQUEST_APPROVED, AuditEvent.Action.REQUEST_REJECTED):
        if changes.get("basis") == "pattern":
            lines.append(_("by the rule %(p)s") % {"p": display_domain(changes.get("pattern", ""))})
        elif changes.get("basis") == "mode":
            lines.append(_("by the site's automatic mode"))
        if changes.get("reason"):
            lines.append(_("Reason: %(r)s") % {"r": changes["reason"]})
        if changes.get("person_created"):
            lines.append(_("New person created, host license for this site only"))
    elif event.action == AuditEvent.Action.PERSON_CREATED and changes.get("template_licenses"):
        lines.append(
            _("Licenses from the automatic template: %(s)s")
            % {"s": ", ".join(changes["template_licenses"])}
        )
    elif event.action == AuditEvent.Action.PERSON_DELETED and changes.get("licenses"):
        lines.append(
            _("Host licenses removed with them: %(s)s") % {"s": ", ".join(changes["licenses"])}
        )
    return lines
