"""The one exception the v3 client raises: a v3 error envelope or a transport failure."""

from __future__ import annotations

UPSTREAM_TIMEOUT = "ProxyUpstream.Timeout"
UPSTREAM_UNREACHABLE = "ProxyUpstream.Unreachable"
UPSTREAM_BAD_RESPONSE = "ProxyUpstream.BadResponse"
UPSTREAM_QUOTA = "ProxyUpstream.QuotaExhausted"  # not sent: no slot of the upstream quota in time

TRANSPORT_CODES: frozenset[str] = frozenset({UPSTREAM_TIMEOUT, UPSTREAM_UNREACHABLE, UPSTREAM_BAD_RESPONSE})


class V3Error(Exception):
    """A failed v3 call.

    `code` is the v3 error code of the envelope (e.g. ``InvalidParameterValue.PersonIdAlreadyExist``),
    or one of the ``ProxyUpstream.*`` codes when no envelope came back (then `request_id` is "").
    The message never carries keys, signatures or request/response bodies.
    """

    __slots__ = ("action", "code", "message", "request_id")

    def __init__(self, action: str, code: str, message: str, request_id: str = "") -> None:
        super().__init__(action, code, message, request_id)
        self.action = action
        self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def is_transport(self) -> bool:
        """True when the upstream never answered with a v3 envelope."""
        return self.code in TRANSPORT_CODES

    def __str__(self) -> str:
        rid = f" (RequestId {self.request_id})" if self.request_id else ""
        return f"{self.action}: {self.code}: {self.message}{rid}"

    def __repr__(self) -> str:
        return (
            f"V3Error(action={self.action!r}, code={self.code!r}, message={self.message!r}, "
            f"request_id={self.request_id!r})"
        )
