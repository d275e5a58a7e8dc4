"""Typed requests from parsed forms: every op, the field rules and their v1 codes."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from proxy.domain.requests import V1Call
from proxy.handlers.ops import OPS
from proxy.v1.errors import V1Error
from proxy.v1.form import V1Form
from proxy.v1.requests import (
    AddFace,
    Compare,
    DelFace,
    DelPerson,
    GetFaceIds,
    GetFaceInfo,
    GetGroupIds,
    GetInfo,
    GetPersonIds,
    Identify,
    ImageSource,
    NewPerson,
    SetInfo,
    Target,
    Verify,
    build_target,
    unknown_op,
)

IMG = b"\xff\xd8image\xff\xd9"


def form(
    scalars: dict[str, str] | None = None,
    arrays: dict[str, tuple[str, ...]] | None = None,
    blobs: dict[str, bytes] | None = None,
    blob_arrays: dict[str, tuple[bytes, ...]] | None = None,
) -> V1Form:
    return V1Form(
        scalars=MappingProxyType({"appid": "123", "bucket": "b", **(scalars or {})}),
        arrays=MappingProxyType(arrays or {}),
        blobs=MappingProxyType(blobs or {}),
        blob_arrays=MappingProxyType(blob_arrays or {}),
    )


def build_call(op: str, f: V1Form) -> V1Call:
    """What the v1 route does with a body once the op is known: target, then the op's parser."""
    if op not in OPS:
        raise unknown_op(op)
    return V1Call(op=op, target=build_target(f), request=OPS[op].parse(f))


def code(op: str, f: V1Form) -> tuple[int, int | None]:
    with pytest.raises(V1Error) as info:
        build_call(op, f)
    return info.value.code, info.value.fail_flag


def test_all_thirteen_ops() -> None:
    assert set(OPS) == {
        "newperson", "delperson", "addface", "delface", "setinfo", "getinfo", "getgroupids",
        "getpersonids", "getfaceids", "getfaceinfo", "verify", "identify", "compare",
    }  # fmt: skip


def test_each_op_builds_its_request() -> None:
    url = {"url": "http://e/x.jpg"}
    cases = {
        "newperson": (
            form({"person_id": "p", **url, "person_name": "n", "tag": "t"}, {"group_ids": ("g1", "g2")}),
            NewPerson("p", ("g1", "g2"), ImageSource(url="http://e/x.jpg"), "n", "t"),
        ),
        "delperson": (form({"person_id": "p"}), DelPerson("p")),
        "addface": (
            form({"person_id": "p"}, blob_arrays={"images": (IMG, IMG + b"2")}),
            AddFace("p", (ImageSource(data=IMG), ImageSource(data=IMG + b"2")), None),
        ),
        "delface": (form({"person_id": "p"}, {"face_ids": ("f1",)}), DelFace("p", ("f1",))),
        "setinfo": (form({"person_id": "p", "tag": ""}), SetInfo("p", None, "")),
        "getinfo": (form({"person_id": "p"}), GetInfo("p")),
        "getgroupids": (form(), GetGroupIds()),
        "getpersonids": (form({"group_id": "g"}), GetPersonIds("g")),
        "getfaceids": (form({"person_id": "p"}), GetFaceIds("p")),
        "getfaceinfo": (form({"face_id": "f"}), GetFaceInfo("f")),
        "verify": (form({"person_id": "p"}, blobs={"image": IMG}), Verify("p", ImageSource(data=IMG))),
        "identify": (form({"group_id": "g", **url}), Identify("g", ImageSource(url="http://e/x.jpg"))),
        "compare": (
            form({"urlA": "http://e/a.jpg"}, blobs={"imageB": IMG}),
            Compare(ImageSource(url="http://e/a.jpg"), ImageSource(data=IMG)),
        ),
    }
    assert set(cases) == set(OPS)
    for op, (f, expected) in cases.items():
        call = build_call(op, f)
        assert call.op == op
        assert call.target == Target(appid="123", bucket="b")
        assert call.request == expected


def test_url_wins_over_image() -> None:
    call = build_call("verify", form({"person_id": "p", "url": "http://e/u.jpg"}, blobs={"image": IMG}))
    assert isinstance(call.request, Verify)
    assert call.request.image == ImageSource(url="http://e/u.jpg")
    both = form({"person_id": "p", "urls": "http://e/1.jpg"}, blob_arrays={"images": (IMG,)})
    add = build_call("addface", both).request
    assert isinstance(add, AddFace)
    assert add.images == (ImageSource(url="http://e/1.jpg"),)


def test_bucket_optional_and_empty_is_none() -> None:
    f = V1Form(scalars=MappingProxyType({"appid": "1"}), blobs=MappingProxyType({"imageA": IMG, "imageB": IMG}))
    assert build_call("compare", f).target == Target(appid="1", bucket=None)
    assert build_call("getgroupids", form({"bucket": ""})).target.bucket is None


def test_single_string_arrays() -> None:
    call = build_call("newperson", form({"person_id": "p", "group_ids": "g", "url": "u"}))
    assert isinstance(call.request, NewPerson)
    assert call.request.group_ids == ("g",)


def test_unknown_op_is_3() -> None:
    assert code("detect", form()) == (3, None)


def test_missing_or_empty_appid_is_1301() -> None:
    assert code("getgroupids", V1Form()) == (-1301, None)
    assert code("getgroupids", form({"appid": ""})) == (-1301, None)


@pytest.mark.parametrize(
    ("op", "f"),
    [
        ("delperson", form()),
        ("delperson", form({"person_id": ""})),
        ("newperson", form({"person_id": "p", "url": "u"})),
        ("newperson", form({"person_id": "p", "url": "u"}, {"group_ids": ("g", "")})),
        ("delface", form({"person_id": "p"})),
        ("getpersonids", form()),
        ("getfaceinfo", form({"face_id": ""})),
    ],
)
def test_missing_required_is_1301(op: str, f: V1Form) -> None:
    assert code(op, f) == (-1301, None)


@pytest.mark.parametrize("bad", ["a b", "a/b", "a\tb", "a\nb", "a\rb", "a\x00b"])
def test_ids_with_forbidden_characters_are_1313(bad: str) -> None:
    assert code("getinfo", form({"person_id": bad})) == (-1313, None)
    assert code("getpersonids", form({"group_id": bad})) == (-1313, None)
    assert code("delface", form({"person_id": "p"}, {"face_ids": ("ok", bad)})) == (-1313, None)
    assert code("newperson", form({"person_id": "p", "url": "u"}, {"group_ids": (bad,)})) == (-1313, None)


@pytest.mark.parametrize("good", ["a.b", "a#b@c%d", "中文", "😀", "x" * 200, "a-b_c&d"])
def test_ids_v1_allowed_are_kept_verbatim(good: str) -> None:
    call = build_call("getinfo", form({"person_id": good}))
    assert call.request == GetInfo(good)


def test_names_and_tags_pass_through() -> None:
    call = build_call("setinfo", form({"person_id": "p", "person_name": "A / b 中 😀", "tag": "x y"}))
    assert call.request == SetInfo("p", "A / b 中 😀", "x y")


def test_missing_image_is_1300() -> None:
    assert code("verify", form({"person_id": "p"})) == (-1300, None)
    assert code("verify", form({"person_id": "p"}, blobs={"image": b""})) == (-1300, None)
    assert code("identify", form({"group_id": "g", "url": ""})) == (-1300, None)
    assert code("addface", form({"person_id": "p"})) == (-1300, None)
    assert code("addface", form({"person_id": "p"}, blob_arrays={"images": (IMG, b"")})) == (-1300, None)
    assert code("addface", form({"person_id": "p"}, {"urls": ("u", "")})) == (-1300, None)


def test_compare_missing_image_says_which() -> None:
    assert code("compare", form(blobs={"imageB": IMG})) == (-1300, 1)
    assert code("compare", form({"urlA": "u"})) == (-1300, 2)


def test_wrong_shape_is_21() -> None:
    assert code("getinfo", form(arrays={"person_id": ("a", "b")})) == (21, None)
    assert code("getgroupids", form(arrays={"appid": ("1",)})) == (21, None)
    assert code("verify", form({"person_id": "p", "image": "text"})) == (21, None)
    assert code("addface", form({"person_id": "p"}, blobs={"images": IMG})) == (21, None)
    assert code("delface", form({"person_id": "p"}, blobs={"face_ids": IMG})) == (21, None)


def test_image_source_repr_hides_bytes() -> None:
    assert "image" not in repr(ImageSource(data=IMG))
    with pytest.raises(ValueError):
        ImageSource()
