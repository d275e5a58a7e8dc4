"""Every action through the official v3 SDK: replies parse into the SDK's models; a full session works."""

from __future__ import annotations

from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from tests.emulator.conftest import photo_b64, req


def code_of(call: Any, *args: Any) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        call(*args)
    return str(info.value.get_code())


def test_group_person_face_verify_search_session(client: Any) -> None:
    assert (
        client.CreateGroup(
            req("CreateGroup", GroupId="staff", GroupName="Staff", GroupExDescriptions=["badge"])
        ).FaceModelVersion
        == "3.0"
    )
    created = client.CreatePerson(
        req(
            "CreatePerson",
            GroupId="staff",
            PersonId="alice",
            PersonName="Alice",
            Gender=2,
            Image=photo_b64(0, 0),
            PersonExDescriptionInfos=[{"PersonExDescriptionIndex": 0, "PersonExDescription": "B-1"}],
        )
    )
    assert created.FaceId.isdigit() and created.FaceRect.Width > 0
    client.CreatePerson(req("CreatePerson", GroupId="staff", PersonId="bob", PersonName="Bob", Image=photo_b64(1, 0)))
    faces = client.CreateFace(req("CreateFace", PersonId="alice", Images=[photo_b64(0, 1), photo_b64(0, 2)]))
    assert faces.SucFaceNum == 2 and faces.RetCode == [0, 0] and faces.SucIndexes == [0, 1]
    assert len(faces.SucFaceRects) == 2 and all(f.isdigit() for f in faces.SucFaceIds)
    base = client.GetPersonBaseInfo(req("GetPersonBaseInfo", PersonId="alice"))
    assert base.PersonName == "Alice" and base.Gender == 2 and len(base.FaceIds) == 3

    same = client.VerifyFace(req("VerifyFace", PersonId="alice", Image=photo_b64(0, 3)))
    other = client.VerifyFace(req("VerifyFace", PersonId="alice", Image=photo_b64(1, 3)))
    assert same.IsMatch and same.Score >= 80 and not other.IsMatch and other.Score <= 30
    assert client.VerifyPerson(req("VerifyPerson", PersonId="bob", Image=photo_b64(1, 2))).IsMatch

    found = client.SearchFaces(req("SearchFaces", GroupIds=["staff"], Image=photo_b64(0, 4), NeedPersonInfo=1))
    top = found.Results[0].Candidates[0]
    assert (top.PersonId, top.PersonName, found.FaceNum) == (
        "alice",
        "Alice",
        4,
    ) and top.FaceId in base.FaceIds
    persons = client.SearchPersons(
        req("SearchPersons", GroupIds=["staff"], Image=photo_b64(1, 4), MaxPersonNum=1, FaceMatchThreshold=50)
    )
    assert [c.PersonId for c in persons.Results[0].Candidates] == ["bob"] and persons.PersonNum == 2

    listing = client.GetPersonList(req("GetPersonList", GroupId="staff"))
    assert [p.PersonId for p in listing.PersonInfos] == ["alice", "bob"] and listing.FaceNum == 4
    assert listing.PersonInfos[0].PersonExDescriptions == ["B-1"]
    num = client.GetPersonListNum(req("GetPersonListNum", GroupId="staff"))
    assert (num.PersonNum, num.FaceNum) == (2, 4)


def test_group_actions(client: Any) -> None:
    for i in range(3):
        client.CreateGroup(req("CreateGroup", GroupId=f"g{i}", GroupName=f"Group {i}", Tag="t"))
    page = client.GetGroupList(req("GetGroupList", Offset=1, Limit=1))
    assert page.GroupNum == 3 and [g.GroupId for g in page.GroupInfos] == ["g1"]
    client.ModifyGroup(
        req(
            "ModifyGroup",
            GroupId="g1",
            GroupName="Renamed",
            Tag="new",
            GroupExDescriptionInfos=[{"GroupExDescriptionIndex": 0, "GroupExDescription": "x"}],
        )
    )
    info = client.GetGroupInfo(req("GetGroupInfo", GroupId="g1"))
    assert (info.GroupName, info.Tag, info.GroupExDescriptions) == ("Renamed", "new", ["x"])
    assert info.CreationTimestamp > 0
    client.DeleteGroup(req("DeleteGroup", GroupId="g1"))
    assert code_of(client.GetGroupInfo, req("GetGroupInfo", GroupId="g1")) == "InvalidParameterValue.GroupIdNotExist"


def test_person_actions(client: Any) -> None:
    for g in ("a", "b", "c"):
        client.CreateGroup(req("CreateGroup", GroupId=g, GroupName=g.upper(), GroupExDescriptions=["n"]))
    client.CreatePerson(req("CreatePerson", GroupId="a", PersonId="p", PersonName="P", Image=photo_b64(2, 0)))
    copied = client.CopyPerson(req("CopyPerson", PersonId="p", GroupIds=["b", "c", "a"]))
    assert copied.SucGroupNum == 2 and copied.SucGroupIds == ["b", "c"]
    client.ModifyPersonGroupInfo(
        req(
            "ModifyPersonGroupInfo",
            GroupId="b",
            PersonId="p",
            PersonExDescriptionInfos=[{"PersonExDescriptionIndex": 0, "PersonExDescription": "v"}],
        )
    )
    groups = client.GetPersonGroupInfo(req("GetPersonGroupInfo", PersonId="p"))
    assert groups.GroupNum == 3
    assert {g.GroupId: g.PersonExDescriptions for g in groups.PersonGroupInfos}["b"] == ["v"]
    client.ModifyPersonBaseInfo(req("ModifyPersonBaseInfo", PersonId="p", PersonName="Q", Gender=1))
    base = client.GetPersonBaseInfo(req("GetPersonBaseInfo", PersonId="p"))
    assert (base.PersonName, base.Gender) == ("Q", 1)
    client.DeletePersonFromGroup(req("DeletePersonFromGroup", PersonId="p", GroupId="a"))
    assert client.GetPersonListNum(req("GetPersonListNum", GroupId="a")).PersonNum == 0
    assert client.GetPersonGroupInfo(req("GetPersonGroupInfo", PersonId="p")).GroupNum == 2
    client.DeletePerson(req("DeletePerson", PersonId="p"))
    for g in ("b", "c"):  # removed from every group
        assert client.GetPersonListNum(req("GetPersonListNum", GroupId=g)).PersonNum == 0
    assert (
        code_of(client.GetPersonBaseInfo, req("GetPersonBaseInfo", PersonId="p"))
        == "InvalidParameterValue.PersonIdNotExist"
    )


def test_face_analysis_actions(client: Any) -> None:
    detected = client.DetectFace(req("DetectFace", Image=photo_b64(3, 0), NeedFaceAttributes=1, NeedQualityDetection=1))
    assert (detected.ImageWidth, detected.ImageHeight) == (480, 640)
    info = detected.FaceInfos[0]
    assert info.Width > 32 and 0 <= info.FaceAttributesInfo.Age <= 100
    assert 0 <= info.FaceQualityInfo.Score <= 100 and info.FaceQualityInfo.Completeness.Eye >= 0
    again = client.DetectFace(req("DetectFace", Image=photo_b64(3, 0), NeedFaceAttributes=1))
    assert again.FaceInfos[0].FaceAttributesInfo.Age == info.FaceAttributesInfo.Age
    shapes = client.AnalyzeFace(req("AnalyzeFace", Image=photo_b64(3, 0))).FaceShapeSet[0]
    assert (
        len(shapes.FaceProfile),
        len(shapes.LeftEye),
        len(shapes.Mouth),
        len(shapes.Nose),
        len(shapes.LeftPupil),
    ) == (21, 8, 22, 13, 1)
    assert all(info.X <= p.X <= info.X + info.Width for p in shapes.Mouth)
    same = client.CompareFace(req("CompareFace", ImageA=photo_b64(3, 0), ImageB=photo_b64(3, 1)))
    diff = client.CompareFace(req("CompareFace", ImageA=photo_b64(3, 0), ImageB=photo_b64(4, 1)))
    assert same.Score >= 80 and diff.Score <= 30 and same.FaceModelVersion == "3.0"


def test_delete_face_keeps_the_last_one(client: Any) -> None:
    client.CreateGroup(req("CreateGroup", GroupId="g", GroupName="G"))
    first = client.CreatePerson(
        req("CreatePerson", GroupId="g", PersonId="p", PersonName="P", Image=photo_b64(5, 0))
    ).FaceId
    second = client.CreateFace(req("CreateFace", PersonId="p", Images=[photo_b64(5, 1)])).SucFaceIds[0]
    deleted = client.DeleteFace(req("DeleteFace", PersonId="p", FaceIds=[second, "123"]))
    assert (deleted.SucDeletedNum, deleted.SucFaceIds) == (1, [second])
    assert (
        code_of(client.DeleteFace, req("DeleteFace", PersonId="p", FaceIds=[first]))
        == "InvalidParameterValue.DeleteFaceNumExceed"
    )
