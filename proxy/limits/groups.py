"""v3 IAI actions by interface group: Tencent's default QPS limit applies per group, not per action.

From Tencent's "接口组并发限制" (per-interface-group concurrency limits, qcloud-documents
product/大数据与AI/人脸识别/操作指引/接口组并发限制.md) and the API overview's grouping of actions:
every group is limited to 50 requests/second by default on pay-per-call billing, except the
high-accuracy liveness group (5) and person de-duplication (6). An action not listed here is
counted in its own group named after the action (a conservative guess: never shares a budget it
might not share on v3).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

DEFAULT_GROUP_QPS = 50.0

# group -> the v3 actions v3 counts against it
GROUP_ACTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "detect": frozenset({"DetectFace", "DetectFaceAttributes"}),  # 人脸检测与分析
        "analyze": frozenset({"AnalyzeFace", "AnalyzeDenseLandmarks"}),  # 五官定位
        "compare": frozenset({"CompareFace", "CompareMaskFace"}),  # 人脸比对
        "verify": frozenset({"VerifyFace", "VerifyPerson"}),  # 人脸验证
        "library": frozenset(  # 人员库管理
            {
                "CreateGroup",
                "DeleteGroup",
                "GetGroupList",
                "GetGroupInfo",
                "ModifyGroup",
                "CreatePerson",
                "DeletePerson",
                "DeletePersonFromGroup",
                "GetPersonList",
                "GetPersonListNum",
                "GetPersonBaseInfo",
                "GetPersonGroupInfo",
                "ModifyPersonBaseInfo",
                "ModifyPersonGroupInfo",
                "CreateFace",
                "DeleteFace",
                "CopyPerson",
            }
        ),
        "search": frozenset(  # 人脸搜索
            {"SearchFaces", "SearchFacesReturnsByGroup", "SearchPersons", "SearchPersonsReturnsByGroup"}
        ),
        "liveness": frozenset({"DetectLiveFace"}),  # 人脸静态活体检测
        "liveness_accurate": frozenset({"DetectLiveFaceAccurate"}),  # 高精度版
        "dedup": frozenset({"EstimateCheckSimilarFaceRepeat", "CheckSimilarPerson"}),  # 人员查重
    }
)

# Tencent's defaults where they differ from 50/s
GROUP_DEFAULT_QPS: Mapping[str, float] = MappingProxyType({"liveness_accurate": 5.0, "dedup": 6.0})

ACTION_GROUP: Mapping[str, str] = MappingProxyType(
    {action: group for group, actions in GROUP_ACTIONS.items() for action in actions}
)


def group_of(action: str) -> str:
    """The interface group a v3 action draws from (an unknown action: a group of its own)."""
    return ACTION_GROUP.get(action) or f"action:{action}"
