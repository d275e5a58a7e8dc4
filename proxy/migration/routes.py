"""The route decision, pure: which backend answers one request and where its write also goes.

Routes per tenant (and per op): ``v1`` -> ``shadow`` -> ``canary N%`` -> ``v3``, and back.

- Sticky canary: the subject key (person_id for person/face ops and verify, group_id for identify
  and getpersonids, a SHA-256 of the request body otherwise) is hashed with the tenant's appid
  into 10,000 buckets (SHA-256 of ``appid NUL key``, first 8 bytes, mod 10,000); the subject is on
  v3 when its bucket < N x 100. The bucket never depends on N, so raising N only moves subjects
  from v1 to v3, and the same subject always lands on the same side for a given N. The appid is
  part of the hash so tenants' canaries are independent samples.
- getfaceinfo in canary: a face id belongs to the backend that minted it, so the side is where the
  face is (v3 when the proxy's store holds it), not the request's bucket.
- Data-aware: on the v3 side, a request about a person or group the proxy does not know in v3
  (never written to v3 through it, not backfilled, not confirmed) is answered by v1 while a
  legacy backend is configured -- whatever the percentage says. compare has no subject; newperson
  goes to v1 only when v1 already holds the id (the router asks v1 first), so v1's -1302 answers it.
- Read-your-writes: while a person's latest write is still owed to the other side (in the outbox),
  requests about that person go to the side that served it, whatever the route says.
- Writes: the serving side synchronously; the other side through the durable outbox while both
  backends are in use (shadow, canary; v3 until ``retire_v1``). ``v1`` is a verbatim passthrough
  and writes nowhere else.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from dataclasses import dataclass

from proxy.settings import V1_OPS, normal_route

BUCKETS = 10_000
WRITE_OPS = frozenset({"newperson", "delperson", "addface", "delface", "setinfo"})
PERSON_OPS = frozenset({"newperson", "delperson", "addface", "delface", "setinfo", "getinfo", "getfaceids", "verify"})
GROUP_OPS = frozenset({"identify", "getpersonids"})
NEVER_REDIRECTED = frozenset({"newperson", "compare"})
FACE_LOCATED = frozenset({"getfaceinfo"})  # a face id belongs to the backend that minted it
__all__ = ["V1_OPS", "Kind", "Plan", "Reason", "Route", "Side", "bucket", "on_v3", "parse_route", "plan", "subject_key"]


class Kind(enum.StrEnum):
    V1 = "v1"
    SHADOW = "shadow"
    CANARY = "canary"
    V3 = "v3"


class Side(enum.StrEnum):
    """A backend: the legacy v1 service or IAI v3 (through the proxy's translation)."""

    V1 = "v1"
    V3 = "v3"

    @property
    def other(self) -> Side:
        return Side.V3 if self is Side.V1 else Side.V1


@dataclass(frozen=True, slots=True)
class Route:
    """One configured route; ``percent`` (0-100, two decimals) only for canary."""

    kind: Kind
    percent: float = 0.0

    def __str__(self) -> str:
        return f"canary {self.percent:g}%" if self.kind is Kind.CANARY else self.kind.value


@functools.lru_cache(maxsize=256)
def parse_route(text: str) -> Route:
    """``v1`` | ``shadow`` | ``v3`` | ``canary N%`` (also ``canary: N%``, ``canary N``); ValueError otherwise."""
    value = normal_route(text)
    if value.startswith("canary"):
        return Route(Kind.CANARY, float(value.removeprefix("canary ").removesuffix("%")))
    return Route(Kind(value))


def bucket(appid: str, subject_key: str) -> int:
    """The subject's bucket, 0..9,999, fixed for (tenant, subject)."""
    digest = hashlib.sha256(f"{appid}\x00{subject_key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def on_v3(appid: str, subject_key: str, percent: float) -> bool:
    """Whether a canary at ``percent`` answers this subject from v3."""
    return bucket(appid, subject_key) < round(percent * 100)


def subject_key(op: str, *, person_id: str | None, group_id: str | None, body: bytes) -> str:
    """What a request is about, for the sticky hash (prefixed so a person and a group never share a key)."""
    if op in PERSON_OPS and person_id is not None:
        return f"person:{person_id}"
    if op in GROUP_OPS and group_id is not None:
        return f"group:{group_id}"
    return "request:" + hashlib.sha256(body).hexdigest()


class Reason(enum.StrEnum):
    """Why the serving side is what it is (logged, and a metric label)."""

    ROUTE = "route"  # the route says so
    CANARY_V1 = "canary_v1"  # canary: the subject's bucket is above N
    CANARY_V3 = "canary_v3"  # canary: the subject's bucket is below N
    NOT_IN_V3 = "not_in_v3"  # data-aware: the subject is not known in v3
    OWED = "owed"  # the person's latest write is still owed to the other side: the side that has it answers


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one request."""

    route: Route
    serve: Side
    reason: Reason
    mirror_write: Side | None  # a write also goes there, through the outbox
    shadow_read: bool  # a read is also run on v3 in the background, for comparison
    fallback: bool  # a v3 transport/5xx failure is answered by v1 instead


def plan(
    route: Route,
    *,
    appid: str,
    op: str,
    subject: str,
    known_in_v3: bool,
    v1_configured: bool,
    retire_v1: bool,
    fresh_side: Side | None = None,
    exists_in_v1: bool = False,
) -> Plan:
    """The plan for one request; ``known_in_v3`` says whether the request's subject exists in v3;
    ``fresh_side``: the side that served the person's latest write while it is still owed to the other;
    ``exists_in_v1``: newperson only -- v1 already holds that person id (so v1 must answer: -1302)."""
    write = op in WRITE_OPS
    if route.kind is Kind.V1:
        return Plan(route, Side.V1, Reason.ROUTE, None, False, False)
    if route.kind is Kind.SHADOW:
        return Plan(route, Side.V1, Reason.ROUTE, Side.V3 if write else None, not write, False)
    if route.kind is Kind.CANARY and op in FACE_LOCATED:
        wants_v3, reason = True, Reason.ROUTE  # then data-aware: v1 unless the face is v3's
    elif route.kind is Kind.CANARY:
        wants_v3 = on_v3(appid, subject, route.percent)
        reason = Reason.CANARY_V3 if wants_v3 else Reason.CANARY_V1
    else:
        wants_v3, reason = True, Reason.ROUTE
    if wants_v3 and v1_configured and not known_in_v3 and op not in NEVER_REDIRECTED:
        wants_v3, reason = False, Reason.NOT_IN_V3
    if wants_v3 and v1_configured and op == "newperson" and exists_in_v1:
        wants_v3, reason = False, Reason.NOT_IN_V3
    if fresh_side is not None and v1_configured and wants_v3 != (fresh_side is Side.V3):
        wants_v3, reason = fresh_side is Side.V3, Reason.OWED
    serve = Side.V3 if wants_v3 else Side.V1
    if not v1_configured:
        return Plan(route, Side.V3, reason, None, False, False)
    keeps_v1 = route.kind is Kind.CANARY or not retire_v1
    mirror = serve.other if write and (serve is Side.V1 or keeps_v1) else None
    fallback = serve is Side.V3 and not write and route.kind is Kind.CANARY
    return Plan(route, serve, reason, mirror, False, fallback)
