"""Rendering: exact v1 field names and JSON types; errors with fail_flag and their HTTP status."""

from __future__ import annotations

import json

import pytest

from proxy.domain.faces import FaceAttributes
from proxy.v1.errors import V1_CODES, V1Error, http_status_for
from proxy.v1.render import render_error, render_result
from proxy.v1.results import (
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


def body(result: V1Result) -> dict[str, object]:
    response = render_result(result)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert isinstance(response.text, str)
    doc = json.loads(response.text)
    assert doc["code"] == 0
    assert doc["message"] == "OK"
    data = doc["data"]
    assert isinstance(data, dict)
    return data


def test_compare_similarity_is_a_float_even_when_integral() -> None:
    response = render_result(CompareResult(session_id="rid", similarity=100))
    assert isinstance(response.text, str)
    assert '"similarity": 100.0' in response.text
    assert body(CompareResult(session_id="rid", similarity=100)) == {"session_id": "rid", "similarity": 100.0}


def test_verify_types() -> None:
    data = body(VerifyResult(session_id="r", confidence=90, ismatch=True))
    assert data == {"session_id": "r", "confidence": 90.0, "ismatch": True}
    assert type(data["confidence"]) is float
    assert data["ismatch"] is True


def test_newperson_and_addface_types() -> None:
    data = body(NewPersonResult("r", 2, 1, "p", "f", ("tencent", "qq")))
    assert data == {
        "session_id": "r",
        "suc_group": 2,
        "suc_face": 1,
        "person_id": "p",
        "face_id": "f",
        "group_ids": ["tencent", "qq"],
    }
    data = body(AddFaceResult("r", 1, ("f1",), (0, -1101)))
    assert data == {"session_id": "r", "added": 1, "face_ids": ["f1"], "ret_codes": [0, -1101]}
    assert all(type(c) is int for c in data["ret_codes"])  # type: ignore[attr-defined]


def test_faceinfo_types() -> None:
    attributes = FaceAttributes(x=44, y=33.6,  # type: ignore[arg-type]  # a float where v1 has an int is rounded
                                width=64, height=64, gender=99, age=37, expression=6, glass=True,
                                pitch=5, yaw=6, roll=0)  # fmt: skip
    info = FaceInfo("f", attributes)
    data = body(GetFaceInfoResult("r", info))
    face = data["face_info"]
    assert face == {
        "face_id": "f", "x": 44, "y": 34, "width": 64.0, "height": 64.0, "gender": 99, "age": 37,
        "expression": 6, "glass": True, "pitch": 5, "yaw": 6, "roll": 0,
    }  # fmt: skip
    assert isinstance(face, dict)
    assert type(face["width"]) is float and type(face["x"]) is int


def test_identify_candidates() -> None:
    data = body(IdentifyResult("r", (IdentifyCandidate("p3", "f", 54.9, "new tag"),)))
    assert data == {
        "session_id": "r",
        "candidates": [{"person_id": "p3", "face_id": "f", "confidence": 54.9, "tag": "new tag"}],
    }


@pytest.mark.parametrize(
    ("result", "keys"),
    [
        (DelPersonResult("r", "p", 1), {"person_id", "deleted"}),
        (DelFaceResult("r", 1, ("f",)), {"deleted", "face_ids"}),
        (SetInfoResult("r", "p"), {"person_id"}),
        (
            GetInfoResult("r", "p", "n", ("f",), ("g",), ""),
            {"person_id", "person_name", "face_ids", "group_ids", "tag"},
        ),
        (GetGroupIdsResult("r", ("g",)), {"group_ids"}),
        (GetPersonIdsResult("r", ("p",)), {"person_ids"}),
        (GetFaceIdsResult("r", ()), {"face_ids"}),
    ],
)
def test_session_id_everywhere(result: V1Result, keys: set[str]) -> None:
    data = body(result)
    assert set(data) == keys | {"session_id"}
    assert data["session_id"] == "r"


def test_error_rendering() -> None:
    response = render_error(V1Error(-1300, fail_flag=2), session_id="sess")
    assert response.status == 400
    assert isinstance(response.text, str)
    assert json.loads(response.text) == {
        "code": -1300,
        "message": "image is empty",
        "data": {"session_id": "sess", "fail_flag": 2},
    }
    response = render_error(V1Error(-1303, "person does not exist", session_id="v3-request-id"))
    assert response.status == 200
    assert isinstance(response.text, str)
    assert json.loads(response.text)["data"] == {"session_id": "v3-request-id"}


def test_status_table() -> None:
    expected = {3: 400, 21: 400, 4: 401, 5: 401, 9: 401, 11: 401, 13: 401, 14: 401, 6: 403, 10: 403, 12: 403,
                15: 429, 23: 413, 213: 502, 107: 503, 108: 503, -1101: 200, -1302: 200, -1303: 200,
                -1305: 200, -1313: 400, -1301: 400, -1300: 400}  # fmt: skip
    assert {code: http_status_for(code) for code in expected} == expected
    assert http_status_for(-9999) == 200
    assert http_status_for(9999) == 400
    assert all(status != 500 for status, _ in V1_CODES.values())
    assert V1Error(14).message == "signature check failed"
    assert V1Error(14).http_status == 401
