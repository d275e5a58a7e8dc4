"""Exact, reversible encoding of v1 person/group ids into v3 ids, inside per-tenant namespaces.

v3 GroupId/PersonId accept only ``A-Z a-z 0-9 - % @ # & _`` and at most 64 characters
(models.py: "支持英文、数字、-%@#&_，长度限制64B"). v1 ids allowed far more (dots, CJK, emoji…;
v1 refused only space, ``/``, tab and newline, with -1313). The codec here is total on every
non-empty ``str`` (lone surrogates included) and either round-trips exactly or raises
:class:`IdTooLong`.

Layout of a v3 id: ``<namespace prefix><body>``.

* Namespace prefix: ``""`` for a tenant that opted out (alone on its v3 account), else
  :data:`NAMESPACE_HASH_CHARS` lower-case base-36 characters of a SHA-256 over appid and
  bucket, then ``_`` (8 characters in all). Fixed length, derived with no configuration,
  so tenants sharing one v3 account never see each other's ids.
* Body, when the v1 id is already v3-clean and does not start with ``%``: the id verbatim.
  With the opt-out namespace a clean id therefore maps to itself.
* Otherwise the shorter of (ties go to the percent form):

  - percent form ``%`` + UTF-8 bytes with every byte outside ``A-Za-z0-9-@&_`` written
    ``%XX`` (upper-case hex; ``%`` and ``#`` are always escaped);
  - base64 form ``%#`` + unpadded base64url of the UTF-8 bytes.

  A leading ``%`` marks an encoded body (so a raw id starting with ``%`` is itself encoded);
  ``%#`` cannot begin a percent form because ``#`` is always escaped there. Decoding is
  strict: a v3 id decodes only if re-encoding the result gives the very same v3 id, so every
  v1 id has exactly one v3 spelling and foreign ids never alias a proxy id.

Longest v1 id that always fits (worst case, every character needing encoding), via the
base64 form ``2 + ceil(4 * utf8_bytes / 3) <= 64 - len(prefix)``:

=====================  =====================  ==============
characters             namespaced (prefix 8)  opt-out (no prefix)
=====================  =====================  ==============
ASCII (1 byte)         40                     46
CJK, BMP (3 bytes)     13                     15
emoji (4 bytes)        10                     11
=====================  =====================  ==============

A v3-clean ASCII id fits verbatim up to 56 characters namespaced, 64 opted out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

V3_ID_MAX = 64
"""v3 GroupId/PersonId limit (64 bytes; the v3 charset is ASCII, so 64 characters)."""

NAMESPACE_HASH_CHARS = 7
"""Base-36 hash characters in a tenant prefix (36**7 ≈ 7.8e10 distinct namespaces)."""

NAMESPACE_SEPARATOR = "_"

_V3_ID_RE = re.compile(r"[A-Za-z0-9\-%@#&_]+")
_PERCENT_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-@&_")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_PREFIX_RE = re.compile(r"[A-Za-z0-9\-@&_]*")
_ENCODED = "%"
_BASE64_MARK = "%#"
_UTF8_ERRORS = "surrogatepass"  # so any str, lone surrogates included, round-trips


class InvalidId(ValueError):
    """The v1 id cannot be encoded at all (it is empty)."""


class IdTooLong(ValueError):
    """The v1 id's shortest v3 form exceeds 64 characters; handlers answer v1 -1304 (参数过长)."""

    def __init__(self, v1_id: str, encoded_length: int, limit: int) -> None:
        super().__init__(f"id {v1_id!r} needs {encoded_length} characters in v3, more than the {limit} available")
        self.v1_id = v1_id
        self.encoded_length = encoded_length
        self.limit = limit


@dataclass(frozen=True)
class Namespace:
    """A tenant's slice of the v3 id space; ``prefix == ""`` means opted out (clean v3 ids)."""

    prefix: str

    def __post_init__(self) -> None:
        if len(self.prefix) > 16 or not _PREFIX_RE.fullmatch(self.prefix):
            raise ValueError(f"namespace prefix {self.prefix!r} must be at most 16 characters of A-Za-z0-9-@&_")

    @property
    def capacity(self) -> int:
        """Characters left for the encoded id after the prefix."""
        return V3_ID_MAX - len(self.prefix)


OPT_OUT = Namespace("")


@lru_cache(maxsize=1024)  # a handful of tenants, asked on every request
def tenant_namespace(appid: str, bucket: str | None, *, isolated: bool = True) -> Namespace:
    """The namespace of tenant (appid, bucket): a fixed-length hash prefix, or OPT_OUT if not isolated."""
    if not isolated:
        return OPT_OUT
    digest = hashlib.sha256(f"v1proxy-ns\x00{appid}\x00{bucket or ''}".encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(NAMESPACE_HASH_CHARS):
        number, digit = divmod(number, 36)
        chars.append(_B36[digit])
    return Namespace("".join(chars) + NAMESPACE_SEPARATOR)


def is_v3_clean(text: str) -> bool:
    """True if ``text`` is a non-empty string of v3 id characters (length not checked)."""
    return _V3_ID_RE.fullmatch(text) is not None


def _percent_form(raw: bytes) -> str:
    return _ENCODED + "".join(chr(b) if b in _PERCENT_LITERAL else f"%{b:02X}" for b in raw)


def _base64_form(raw: bytes) -> str:
    return _BASE64_MARK + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _body(v1_id: str) -> str:
    if not v1_id:
        raise InvalidId("v1 id must not be empty")
    if is_v3_clean(v1_id) and not v1_id.startswith(_ENCODED):
        return v1_id
    raw = v1_id.encode("utf-8", _UTF8_ERRORS)
    percent, b64 = _percent_form(raw), _base64_form(raw)
    return percent if len(percent) <= len(b64) else b64


def encode_id(ns: Namespace, v1_id: str) -> str:
    """The v3 id for ``v1_id`` in ``ns``: v3-valid, at most 64 characters, injective per namespace."""
    body = _body(v1_id)
    if len(body) > ns.capacity:
        raise IdTooLong(v1_id, len(ns.prefix) + len(body), V3_ID_MAX)
    return ns.prefix + body


def _unescape_percent(text: str) -> bytes | None:
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or not all(c in "0123456789ABCDEF" for c in pair):
                return None
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(ord(ch))
            i += 1
    return bytes(out)


def _decode_body(body: str) -> str | None:
    if not body.startswith(_ENCODED):
        return body
    raw: bytes | None
    if body.startswith(_BASE64_MARK):
        payload = body[len(_BASE64_MARK) :]
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            return None
    else:
        raw = _unescape_percent(body[len(_ENCODED) :])
    if raw is None:
        return None
    try:
        return raw.decode("utf-8", _UTF8_ERRORS)
    except UnicodeDecodeError:
        return None


def decode_id(ns: Namespace, v3_id: str) -> str | None:
    """The v1 id behind ``v3_id``, or None when it is not a proxy id of this namespace."""
    if len(v3_id) > V3_ID_MAX or not v3_id.startswith(ns.prefix) or not is_v3_clean(v3_id):
        return None
    v1_id = _decode_body(v3_id[len(ns.prefix) :])
    if not v1_id or _body(v1_id) != v3_id[len(ns.prefix) :]:
        return None
    return v1_id
