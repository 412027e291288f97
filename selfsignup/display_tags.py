"""`{{ value|address }}`: an email address as people read it, its domain in Unicode."""

from django import template

from sites.domains import display_email

register = template.Library()


@register.filter
def address(value: object) -> str:
    return display_email(str(value)) if value else ""
