"""`{{ value|address }}`: an email address as people read it, its domain in Unicode.
`{{ value|grouped }}`: a count with the language's thousands separator (1,200; 1 200)."""

from django import template
from django.utils.formats import number_format

from sites.domains import display_email

register = template.Library()


@register.filter
def address(value: object) -> str:
    return display_email(str(value)) if value else ""


@register.filter
def grouped(value: object) -> str:
    return number_format(value, force_grouping=True)
