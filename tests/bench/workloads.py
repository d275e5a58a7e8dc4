"""The benchmark's workloads: images, v1 bodies (for the proxy and the floor) and equivalent v3 bodies.

Bodies are built once and written to files; the load generator sends the same bytes every time.
A workload gives, per path, a list of chains of request templates (dicts the load generator reads).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.emulator.synthetic import photo_of_size, subject_photo
from proxy.v1.auth import LegacyKey, sign

APPID = "1250000000"
BUCKET = "bench"
LEGACY_ID = "AKIDbenchLegacy"
LEGACY_KEY = "bench-legacy-key"
V3_ID = "AKIDbenchV3"
V3_KEY = "bench-v3-key"
GROUP = "bench_g"
WRITE_GROUP = "bench_gw"
PERSON = "bench_p0"
IDENTIFY_PERSONS = 8
BOUNDARY = "benchboundary7d1f0c"

Template = dict[str, Any]
Chain = list[Template]


@dataclass(frozen=True)
class Images:
    """The photos every workload uses (URL images are served by the static server)."""

    small_a: bytes
    small_b: bytes
    verify: bytes  # ~100 KB, subject 0 (enrolled as PERSON)
    enrol: tuple[bytes, ...]  # subject i's enrolment photo, i < IDENTIFY_PERSONS
    big_a: bytes  # ~1 MB
    big_b: bytes
    write_a: bytes  # ~100 KB, subject 9
    write_b: bytes

    @staticmethod
    def make() -> Images:
        return Images(
            small_a=subject_photo(0, 1),
            small_b=subject_photo(0, 2),
            verify=photo_of_size(0, 3, 100_000),
            enrol=tuple(subject_photo(i, 0) for i in range(IDENTIFY_PERSONS)),
            big_a=photo_of_size(0, 4, 1_000_000),
            big_b=photo_of_size(0, 5, 1_000_000),
            write_a=photo_of_size(9, 1, 100_000),
            write_b=photo_of_size(9, 2, 100_000),
        )

    def all(self) -> list[bytes]:
        return [
            self.small_a,
            self.small_b,
            self.verify,
            *self.enrol,
            self.big_a,
            self.big_b,
            self.write_a,
            self.write_b,
        ]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def v3_body(params: dict[str, Any]) -> bytes:
    return json.dumps(params, separators=(",", ":")).encode()


def multipart(parts: list[tuple[str, str | bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body as the legacy SDK (requests) builds it: bytes values are files."""
    out = bytearray()
    for name, value in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        if isinstance(value, bytes):
            out += f'Content-Disposition: form-data; name="{name}"; filename="{name}.jpg"\r\n\r\n'.encode()
            out += value
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode()
        out += b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={BOUNDARY}"


def v1_authorization() -> str:
    """One multi-use v1 signature, valid a week: signed once, reused by every request."""
    now = int(time.time())
    plain = f"a={APPID}&b={BUCKET}&k={LEGACY_ID}&e={now + 7 * 86400}&t={now}&r=424242&f="
    return sign(LegacyKey(APPID, LEGACY_ID, LEGACY_KEY), plain)


@dataclass(frozen=True)
class Request:
    """One logical request: its v1 op and body, and the v3 action and params it stands for."""

    op: str
    v1_body: bytes
    v1_type: str
    action: str
    v3: bytes


def v1_json(fields: dict[str, Any]) -> tuple[bytes, str]:
    return json.dumps({"appid": APPID, "bucket": BUCKET, **fields}).encode(), "application/json"


def v1_form(parts: list[tuple[str, str | bytes]]) -> tuple[bytes, str]:
    return multipart([("appid", APPID), ("bucket", BUCKET), *parts])


def request(op: str, v1: tuple[bytes, str], action: str, v3: dict[str, Any]) -> Request:
    return Request(op=op, v1_body=v1[0], v1_type=v1[1], action=action, v3=v3_body(v3))


def write_chain(images: Images, person: str) -> list[Request]:
    """newperson -> addface -> delperson of one person (v3: CreatePerson, CreateFace, DeletePerson)."""
    return [
        request(
            "newperson",
            v1_form([("person_id", person), ("group_ids[0]", WRITE_GROUP), ("image", images.write_a)]),
            "CreatePerson",
            {"GroupId": WRITE_GROUP, "PersonId": person, "PersonName": person, "Image": b64(images.write_a)},
        ),
        request(
            "addface",
            v1_form([("person_id", person), ("images[0]", images.write_b)]),
            "CreateFace",
            {"PersonId": person, "Images": [b64(images.write_b)]},
        ),
        request("delperson", v1_json({"person_id": person}), "DeletePerson", {"PersonId": person}),
    ]


@dataclass(frozen=True)
class Workload:
    """A named workload: `chains(tag, n)` gives n chains of requests (ids distinct per tag)."""

    name: str
    title: str
    small: bool  # a "small request" for the latency target
    concurrency: int
    chains: Callable[[str, int], list[list[Request]]]
    image_bytes: int  # image bytes carried per request (for the RSS target)


def workloads(images: Images, static_url: str) -> list[Workload]:
    compare_url = request(
        "compare",
        v1_json({"urlA": f"{static_url}/a.jpg", "urlB": f"{static_url}/b.jpg"}),
        "CompareFace",
        {"UrlA": f"{static_url}/a.jpg", "UrlB": f"{static_url}/b.jpg"},
    )
    verify = request(
        "verify",
        v1_form([("person_id", PERSON), ("image", images.verify)]),
        "VerifyFace",
        {"PersonId": PERSON, "Image": b64(images.verify)},
    )
    compare_big = request(
        "compare",
        v1_form([("imageA", images.big_a), ("imageB", images.big_b)]),
        "CompareFace",
        {"ImageA": b64(images.big_a), "ImageB": b64(images.big_b)},
    )
    identify = request(
        "identify",
        v1_form([("group_id", GROUP), ("image", images.verify)]),
        "SearchFaces",
        {"GroupIds": [GROUP], "Image": b64(images.verify), "MaxFaceNum": 1, "MaxPersonNum": 5, "NeedPersonInfo": 0},
    )

    def fixed(req: Request) -> Callable[[str, int], list[list[Request]]]:
        return lambda _tag, _n: [[req]]

    return [
        Workload("compare_url", "compare by URL (small JSON)", True, 32, fixed(compare_url), 0),
        Workload("verify_100k", "verify, 100 KB image", False, 32, fixed(verify), len(images.verify)),
        Workload(
            "compare_2x1m",
            "compare, 2 × 1 MB images",
            False,
            16,
            fixed(compare_big),
            len(images.big_a) + len(images.big_b),
        ),
        Workload("identify_100k", "identify, 100 KB image", False, 32, fixed(identify), len(images.verify)),
        Workload(
            "write_mix",
            "write mix (newperson+addface+delperson)",
            False,
            16,
            lambda tag, n: [write_chain(images, f"w{tag}{i}") for i in range(n)],
            len(images.write_a),
        ),
    ]


class BodyFiles:
    """Writes each distinct body once; the load generator reads the files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._known: dict[bytes, str] = {}

    def path(self, body: bytes) -> str:
        found = self._known.get(body)
        if found is None:
            found = str(self.root / f"body{len(self._known)}.bin")
            Path(found).write_bytes(body)
            self._known[body] = found
        return found


def v1_template(files: BodyFiles, base_url: str, req: Request, authorization: str) -> Template:
    return {
        "url": f"{base_url}/face/{req.op}",
        "body": files.path(req.v1_body),
        "headers": {
            "Authorization": authorization,
            "Content-Type": req.v1_type,
            "Host": base_url.removeprefix("http://"),
        },
        "v3": None,
        "kind": "v1",
    }


def v3_template(files: BodyFiles, base_url: str, req: Request) -> Template:
    host = base_url.removeprefix("http://")
    return {
        "url": f"{base_url}/",
        "body": files.path(req.v3),
        "headers": {},
        "v3": {"action": req.action, "host": host, "secret_id": V3_ID, "secret_key": V3_KEY},
        "kind": "v3",
    }


def floor_key(workload: str, req: Request) -> str:
    return f"{workload}.{req.op}"


def write_floor_bodies(root: Path, all_workloads: list[Workload]) -> None:
    """DIR/<workload>.<op>.json + .action: the v3 body the floor sends for each kind of request."""
    root.mkdir(parents=True, exist_ok=True)
    for w in all_workloads:
        for req in w.chains("floor", 1)[0]:
            (root / f"{floor_key(w.name, req)}.json").write_bytes(req.v3)
            (root / f"{floor_key(w.name, req)}.action").write_text(req.action)


def floor_template(files: BodyFiles, base_url: str, workload: str, req: Request) -> Template:
    return {
        "url": f"{base_url}/floor/{floor_key(workload, req)}",
        "body": files.path(req.v1_body),
        "headers": {"Content-Type": req.v1_type},
        "v3": None,
        "kind": "any",
    }
