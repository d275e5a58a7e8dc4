"""One tenant's scope: its id namespace on v3 and its key in the store; v1 <-> v3 ids through it."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.domain.codes import V1Error
from proxy.translate.ids import IdTooLong, Namespace, decode_id, encode_id, tenant_namespace


@dataclass(frozen=True, slots=True)
class Scope:
    """One tenant's view: its id namespace on v3 and its key in the store."""

    namespace: Namespace
    store_key: str

    @classmethod
    def of(cls, appid: str, bucket: str | None, *, isolated: bool = True) -> Scope:
        """The scope of appid + bucket; ``isolated=False`` keeps clean, unprefixed v3 ids."""
        ns = tenant_namespace(appid, bucket, isolated=isolated)
        return cls(namespace=ns, store_key=f"{appid}/{bucket or ''}")

    @property
    def appid(self) -> str:
        """The tenant's appid (the store key is ``appid/bucket``; appids hold no slash)."""
        return self.store_key.split("/", 1)[0]

    def v3_id(self, v1_id: str) -> str:
        """The v3 spelling of a v1 person/group id; V1Error -1304 when it cannot fit in 64 characters."""
        try:
            return encode_id(self.namespace, v1_id)
        except IdTooLong:
            raise V1Error(-1304, f"id too long for v3 once encoded: {v1_id[:40]!r}") from None

    def v1_id(self, v3_id: str) -> str | None:
        """The v1 id of a v3 id, or None when it is not this tenant's (a shared v3 account)."""
        return decode_id(self.namespace, v3_id)

    def v1_ids(self, v3_ids: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """The v1 ids of those v3 ids that are this tenant's, in order."""
        return tuple(v for v in map(self.v1_id, v3_ids) if v is not None)

    def writer_key(self, v3_person_id: str) -> str:
        """The key writes to one person are serialised under (see handlers.context.PersonLocks)."""
        return f"{self.store_key}\x00{v3_person_id}"
