"""Small pieces of the Alerts center's pages, as tags: they appear once per row of long lists,
where an `{% include %}` (a template rendered in its own context) costs more than the row."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def status_badge(status: str, label: str) -> SafeString:
    """A request's or an email's status as a coloured badge; both values are escaped."""
    return format_html('<span class="status status-{}">{}</span>', status, label)
