"""The one paging loop: every page of a v3 listing, one call after another."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from proxy.translate.paging import Listing, is_last
from proxy.v3.client import V3Client

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    """Every item of a listing and the RequestId of its first call (the v1 session_id)."""

    items: tuple[T, ...]
    request_id: str


async def all_pages(v3: V3Client, listing: Listing[T]) -> Paged[T]:
    items: list[T] = []
    offset, request_id = 0, ""
    while True:
        reply = await v3.call(listing.action, listing.params(offset, listing.limit))
        request_id = request_id or reply.request_id
        page = listing.page(reply)
        items += page.items
        offset += len(page.items)
        if is_last(page, offset, listing.limit):
            return Paged(tuple(items), request_id)
