"""A write owed to v3 that v3 already holds (its replay was cut short by a crash) still marks the person known
in v3, so the data-aware router sends that person's reads to v3 once the tenant is there."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from qcloud_image import CIBuffer

from proxy.app import RUNTIME
from proxy.domain.requests import ImageSource, NewPerson, Target
from proxy.emulator.synthetic import subject_photo
from proxy.handlers.ops import OPS, run_op
from tests.migration.staged import BUCKET, App, StagedWorld, staged_world

APP = App("1250000022", "AKIDreplayKnown", "key-replay-known")
LEGACY_SESSION = re.compile(r"[0-9a-f]{32}")  # the legacy service's session ids (v3's are UUIDs)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagedWorld]:
    yield from staged_world(tmp_path_factory.mktemp("replay-known"), (APP,))


async def known_in_v3(world: StagedWorld, person_id: str, *, create: bool = False) -> bool:
    """Whether the proxy's store knows the person in v3; `create`: first have v3 create it and the proxy lose
    the record of it (as a SIGKILL between v3's answer and the store's write leaves it)."""
    services = world.app[RUNTIME].current.services
    scope = services.scope(Target(APP.appid, BUCKET))
    if create:
        request = NewPerson(person_id, ("kg",), ImageSource(data=subject_photo(5, 0)), None, None)
        await run_op(OPS["newperson"], request, services, scope)
        await services.store.forget_known_in_v3(scope.store_key, person_id)
    return await services.store.is_known_in_v3(scope.store_key, person_id)


def test_a_newperson_replay_v3_already_holds_marks_the_person_known(world: StagedWorld) -> None:
    world.route(APP, "shadow")
    assert world.loop.run(known_in_v3(world, "ann", create=True)) is False  # in v3, unknown to the proxy
    client = APP.client()
    assert client.face_newperson("ann", ["kg"], CIBuffer(subject_photo(5, 1)))["code"] == 0  # v1 serves; owed to v3
    world.drain()  # the replay: v3 answers "already exists" (-1302), the write is applied
    assert world.loop.run(known_in_v3(world, "ann")) is True
    world.route(APP, "v3")
    reply = client.face_getinfo("ann")
    assert reply["code"] == 0 and not LEGACY_SESSION.fullmatch(reply["data"]["session_id"]), reply  # v3 answers
