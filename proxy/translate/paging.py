"""One page of a paged v3 list, and the one rule for when a listing is complete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from proxy.translate.v3api import Params, Reply

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """The items of one page and the total v3 reports for the whole list."""

    items: tuple[T, ...]
    total: int


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """How to page through one v3 list: the action, its params per (offset, limit), its page reader."""

    action: str
    params: Callable[[int, int], Params]
    page: Callable[[Reply], Page[T]]
    limit: int


def is_last(page: Page[T], offset: int, limit: int) -> bool:
    """True when no page follows: this one was short, or `offset` (after it) reached the total."""
    return len(page.items) < limit or offset >= page.total
