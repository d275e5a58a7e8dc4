"""Typed v1 results for the inbound layer: defined in proxy.domain.results, where translate builds them."""

from __future__ import annotations

from proxy.domain.results import (
    AddFaceResult,
    CompareResult,
    DelFaceResult,
    DelPersonResult,
    FaceInfo,
    GetFaceIdsResult,
    GetFaceInfoResult,
    GetGroupIdsResult,
    GetInfoResult,
    GetPersonIdsResult,
    IdentifyCandidate,
    IdentifyResult,
    NewPersonResult,
    SetInfoResult,
    V1Result,
    VerifyResult,
)

__all__ = [
    "AddFaceResult",
    "CompareResult",
    "DelFaceResult",
    "DelPersonResult",
    "FaceInfo",
    "GetFaceIdsResult",
    "GetFaceInfoResult",
    "GetGroupIdsResult",
    "GetInfoResult",
    "GetPersonIdsResult",
    "IdentifyCandidate",
    "IdentifyResult",
    "NewPersonResult",
    "SetInfoResult",
    "V1Result",
    "VerifyResult",
]
