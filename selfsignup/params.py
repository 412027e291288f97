"""Free text from a query string or a form that is not a Django form (search boxes, filters, a
rejection reason)."""

from django.http import QueryDict


def text_param(params: QueryDict, name: str, *, max_length: int) -> str:
    """The trimmed, bounded value of `name`, without NUL characters: PostgreSQL text can't hold
    them, and a filter or an INSERT carrying one fails."""
    return params.get(name, "").replace("\x00", "").strip()[:max_length]
