"""v1 codes for the inbound layer: V1Error and the code table (defined in the leaf proxy.domain.codes)."""

from __future__ import annotations

from proxy.domain.codes import V1_CODES, V1Error, default_message, http_status_for

__all__ = ["V1_CODES", "V1Error", "default_message", "http_status_for"]
