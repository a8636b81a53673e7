"""One page of a long answer: a host hands a model only so much (Claude Code warns at 10,000
tokens and cuts an answer at 25,000 down to a 2 KB preview), so tools answer a page at a time.

A list ordered by importance (biggest cost first, most recent session first) pages forward from
its head. A list in time order (days, 5-hour blocks) pages back from its newest end: the first
page is the most recent, still in time order within it. ``offset`` counts what earlier pages
showed either way, so ``next_offset`` is what to pass for the next page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Page", "paged"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page: its items, how many there are in all, the offset of the next page (None: this is
    the last), and a sentence saying which these are, for the model to read."""

    items: list[T]
    total: int
    next_offset: int | None
    showing: str


def paged(items: Sequence[T], limit: int | None, offset: int, *, noun: str, newest_last: bool = False) -> Page[T]:
    """The page of ``items`` that ``limit`` and ``offset`` select (``limit`` None: all of them)."""
    total = len(items)
    if limit is None:
        return Page(list(items), total, None, f"all {total} {noun}")
    offset = max(0, offset)
    if newest_last:
        end = max(0, total - offset)
        start = max(0, end - limit)
        chosen = list(items[start:end])
        more = start > 0
        which = "the most recent" if offset == 0 else "earlier"
        first, last = total - end + 1, total - start
    else:
        chosen = list(items[offset : offset + limit])
        more = offset + limit < total
        which = "the first" if offset == 0 else "further"
        first, last = offset + 1, offset + len(chosen)
    next_offset = offset + limit if more else None
    if not chosen:
        showing = f"none of {total} {noun} at offset {offset}"
    elif not more and offset == 0:
        showing = f"all {total} {noun}"
    else:
        showing = f"{noun} {first}-{last} of {total} ({which})" + (
            f"; pass offset={next_offset} for the next {min(limit, total - last)}" if more else ""
        )
    return Page(chosen, total, next_offset, showing)
