"""Where the v3 client gets its credential for each call (static now, rotating sources later)."""

from __future__ import annotations

from collections.abc import Callable

from proxy.v3.signer import Credential

CredentialSource = Callable[[], Credential]
"""Called once per v3 call, so a source may rotate temporary credentials between calls."""


def static_credentials(cred: Credential) -> CredentialSource:
    """A source that always yields the same credential."""

    def source() -> Credential:
        return cred

    return source
