"""The op table and its entry point: one typed record per v1 op; run_op answers a typed result or raises V1Error."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest
from mypy import api as mypy_api

from proxy.domain.codes import V1Error
from proxy.domain.requests import GetGroupIds, NewPerson
from proxy.domain.results import GetGroupIdsResult
from proxy.handlers.ops import GETGROUPIDS, NEWPERSON, OPS, run_form
from proxy.v1.form import V1Form
from tests.handlers.conftest import World, photo, uid

ROOT = Path(__file__).resolve().parents[2]


def test_one_record_per_v1_op_named_as_in_the_path() -> None:
    assert sorted(OPS) == sorted(
        ["newperson", "delperson", "addface", "delface", "setinfo", "getinfo", "getgroupids",
         "getpersonids", "getfaceids", "getfaceinfo", "verify", "identify", "compare"]
    )  # fmt: skip
    assert all(op.name == name for name, op in OPS.items())


async def test_run_form_parses_with_the_ops_parser_then_runs_it(world: World) -> None:
    group = uid("g")
    await world.run(NEWPERSON, NewPerson(uid("p"), (group,), photo(0, 0), None, None))
    result = await run_form(GETGROUPIDS, V1Form(scalars=MappingProxyType({})), world.services, world.scope)
    assert isinstance(result, GetGroupIdsResult)
    assert group in result.group_ids
    with pytest.raises(V1Error) as info:  # the op's own parser refuses a bad body before any v3 call
        await run_form(NEWPERSON, V1Form(scalars=MappingProxyType({"person_id": "a b"})), world.services, world.scope)
    assert info.value.code == -1313


async def test_a_v3_failure_leaves_run_op_as_the_mapped_v1_error(world: World) -> None:
    await world.fail("GetGroupList", "InternalError")
    with pytest.raises(V1Error) as info:
        await world.run(GETGROUPIDS, GetGroupIds())
    assert (info.value.code, info.value.http_status) == (213, 502)
    assert info.value.session_id  # the v3 RequestId


def test_mypy_refuses_an_op_whose_parser_and_handler_disagree(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_op.py"
    wrong.write_text(
        "from proxy.domain.requests import Verify\n"
        "from proxy.domain.results import VerifyResult\n"
        "from proxy.handlers import person\n"
        "from proxy.handlers.ops import Op\n"
        "from proxy.v1 import requests as parse\n\n"
        'WRONG: Op[Verify, VerifyResult] = Op("verify", parse.parse_verify, person.getinfo)\n'
    )
    out, _err, status = mypy_api.run(
        ["--strict", "--no-error-summary", "--config-file", str(ROOT / "pyproject.toml"), str(wrong)]
    )
    assert status == 1, out
    assert 'Argument 3 to "Op" has incompatible type' in out, out
