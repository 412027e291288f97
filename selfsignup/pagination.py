"""Keyset ("cursor") pagination, newest first on (created_at, id): no OFFSET, no COUNT.

A cursor is `a<microseconds>_<id>` (rows after: older) or `b<microseconds>_<id>` (rows before:
newer); a page holds `size` rows and knows only whether there is a next and a previous page.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Model, Q, QuerySet

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None
    previous_cursor: str | None


def _encode(direction: str, row: Model) -> str:
    return f"{direction}{(row.created_at - EPOCH) // MICROSECOND}_{row.pk}"


def _decode(cursor: str) -> tuple[str, datetime, int] | None:
    if not cursor or len(cursor) > 60 or cursor[0] not in "ab":
        return None
    try:
        stamp, _sep, pk = cursor[1:].partition("_")
        return cursor[0], EPOCH + int(stamp) * MICROSECOND, int(pk)
    except (ValueError, OverflowError, OSError):
        return None


def keyset_page(queryset: QuerySet, *, cursor: str = "", size: int = PAGE_SIZE) -> Page:
    """One page of `queryset` newest first, after or before the row the cursor names.

    Rows come and go between two clicks (requests get decided and leave the pending queue), so a
    cursor never leads to a dead end: when nothing is left after it, the page is the last page,
    full (the cursor's own row included when it is still there); when no newer row is left
    before a page, it is the first page, full."""
    decoded = _decode(cursor)
    if decoded is not None:
        direction, when, pk = decoded
        if direction == "a":
            page = _older(queryset, when, pk, size)
            return page if page.items else _last(queryset, size)
        page = _newer(queryset, when, pk, size)
        if page.previous_cursor is not None:
            return page
    return _first(queryset, size)


def _first(queryset: QuerySet, size: int) -> Page:
    rows = list(queryset.order_by("-created_at", "-pk")[: size + 1])
    return Page(rows[:size], _encode("a", rows[size - 1]) if len(rows) > size else None, None)


def _last(queryset: QuerySet, size: int) -> Page:
    rows = list(queryset.order_by("created_at", "pk")[: size + 1])
    items = list(reversed(rows[:size]))
    return Page(items, None, _encode("b", items[0]) if len(rows) > size else None)


def _older(queryset: QuerySet, when: datetime, pk: int, size: int) -> Page:
    """The `size` rows just after the cursor's row (older), newest first."""
    older = Q(created_at__lte=when) & (Q(created_at__lt=when) | Q(pk__lt=pk))
    rows = list(queryset.filter(older).order_by("-created_at", "-pk")[: size + 1])
    items = rows[:size]
    next_cursor = _encode("a", items[-1]) if len(rows) > size else None
    return Page(items, next_cursor, _encode("b", items[0]) if items else None)


def _newer(queryset: QuerySet, when: datetime, pk: int, size: int) -> Page:
    """The `size` rows just before the cursor's row (newer), newest first."""
    newer = Q(created_at__gte=when) & (Q(created_at__gt=when) | Q(pk__gt=pk))
    rows = list(queryset.filter(newer).order_by("created_at", "pk")[: size + 1])
    items = list(reversed(rows[:size]))
    previous_cursor = _encode("b", items[0]) if len(rows) > size else None
    return Page(items, _encode("a", items[-1]) if items else None, previous_cursor)


def query_without_cursor(params) -> str:
    """The page's query string minus the cursor, to build next/previous links."""
    kept = params.copy()
    kept.pop("cursor", None)
    return kept.urlencode()
