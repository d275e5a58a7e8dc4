"""Issue 10 item 2: text a store cannot keep is refused (code 21) before any v3 call, on every op."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest

from proxy.emulator.synthetic import subject_photo
from tests.v1.stack import BUCKET, TENANT_A, running, signature

APPID = TENANT_A[0]
PHOTO = subject_photo(0, 0)


def _json_body(fields: dict[str, str]) -> bytes:
    # json.dumps escapes a lone surrogate as "\ud800": exactly what a JSON client can send
    return json.dumps({"appid": APPID, "bucket": BUCKET, **fields}).encode("ascii")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("person_id", "p\ud800"),
        ("person_name", "name\udfff"),
        ("tag", "tag\x00end"),
        ("person_id", "p\x00"),
    ],
)
async def test_unkeepable_text_in_newperson_is_21_and_v3_is_untouched(tmp_path: Path, field: str, value: str) -> None:
    fields = {"person_id": "p1", "group_ids": "g1", "person_name": "n", "tag": "t", field: value}
    body = json.loads(_json_body(fields))
    body["group_ids"] = ["g1"]
    body["image"] = base64.b64encode(PHOTO).decode()
    async with running(tmp_path) as run, aiohttp.ClientSession() as http:
        reply = await http.post(
            f"{run.url}/face/newperson",
            data=json.dumps(body).encode("ascii"),
            headers={"Authorization": signature(), "Content-Type": "application/json"},
        )
        doc = await reply.json()
        assert (reply.status, doc["code"]) == (400, 21), doc
        assert field in doc["message"]
        assert run.emulator.state.persons == {}  # no v3 write happened
        # nothing half-done: the id is simply unknown, not broken (213)
        reply = await http.post(
            f"{run.url}/face/getinfo",
            data=_json_body({"person_id": "p1"}),
            headers={"Authorization": signature(), "Content-Type": "application/json"},
        )
        assert (await reply.json())["code"] == -1303


@pytest.mark.parametrize("op", ["setinfo", "getinfo", "delperson", "getfaceids", "getpersonids"])
async def test_every_op_refuses_a_surrogate_before_v3(tmp_path: Path, op: str) -> None:
    async with running(tmp_path) as run, aiohttp.ClientSession() as http:
        body = _json_body({"person_id": "\ud800", "group_id": "\ud800", "person_name": "x"})
        reply = await http.post(
            f"{run.url}/face/{op}",
            data=body,
            headers={"Authorization": signature(), "Content-Type": "application/json"},
        )
        doc = await reply.json()
        assert (reply.status, doc["code"]) == (400, 21), doc
        assert "surrogate" in doc["message"]


async def test_nul_in_a_multipart_field_is_21(tmp_path: Path) -> None:
    async with running(tmp_path) as run, aiohttp.ClientSession() as http:
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("appid", APPID)
        form.add_field("bucket", BUCKET)
        form.add_field("person_id", "p\x00q")
        reply = await http.post(f"{run.url}/face/getinfo", data=form, headers={"Authorization": signature()})
        doc = await reply.json()
        assert (reply.status, doc["code"]) == (400, 21), doc
        assert "NUL" in doc["message"]
