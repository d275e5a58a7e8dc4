"""Every v3 call draws from the quota: waits for a slot, retries v3's RequestLimitExceeded within the deadline."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import aiohttp
import pytest

from proxy.emulator.app import RunningEmulator, start_emulator
from proxy.emulator.faults import FaultConfig
from proxy.emulator.runtime import EmulatorConfig
from proxy.limits.quota import LocalSlotBook, QuotaPlan, UpstreamQuota
from proxy.v3.client import V3CallRecord, V3Client, V3Endpoint, make_session
from proxy.v3.credentials import static_credentials
from proxy.v3.errors import UPSTREAM_QUOTA, V3Error
from proxy.v3.signer import Credential

CRED = ("AKIDquota", "quota-secret")


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(EmulatorConfig(credentials=(CRED,)))
    yield running
    await running.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    s = make_session(limit=64)
    yield s
    await s.close()


def client(
    emulator: RunningEmulator, session: aiohttp.ClientSession, qps: float, wait_s: float, records: list[V3CallRecord]
) -> V3Client:
    return V3Client(
        V3Endpoint(url=emulator.url, region="ap-guangzhou"),
        static_credentials(Credential(*CRED)),
        session,
        on_call=records.append,
        quota=UpstreamQuota(LocalSlotBook(), QuotaPlan(default_qps=qps)),
        quota_wait_s=wait_s,
    )


async def test_throttled_calls_are_retried_within_the_deadline(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.emulator.faults.configure(FaultConfig(qps_limit=5))
    records: list[V3CallRecord] = []
    v3 = client(emulator, session, qps=1000, wait_s=4.0, records=records)  # the proxy's quota is too generous
    replies = await asyncio.gather(*(v3.call("GetGroupList", {"Offset": 0, "Limit": 10}) for _ in range(10)))
    assert len(replies) == 10  # every call got through, the throttled ones on a later try
    throttled = [r for r in records if r.code == "RequestLimitExceeded"]
    assert emulator.emulator.faults.throttled == len(throttled) > 0
    assert sum(1 for r in records if r.code == "") == 10


async def test_throttled_past_the_deadline_reaches_the_caller(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.emulator.faults.configure(FaultConfig(qps_limit=1))
    v3 = client(emulator, session, qps=1000, wait_s=0.2, records=[])
    await v3.call("GetGroupList", {"Offset": 0, "Limit": 10})
    with pytest.raises(V3Error) as info:
        await v3.call("GetGroupList", {"Offset": 0, "Limit": 10})
    assert info.value.code == "RequestLimitExceeded"


async def test_no_slot_in_time_is_never_sent(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    emulator.emulator.faults.configure(FaultConfig(qps_limit=1000))  # counts what arrives
    records: list[V3CallRecord] = []
    v3 = client(emulator, session, qps=2, wait_s=0.1, records=records)
    await v3.call("GetGroupList", {"Offset": 0, "Limit": 10})
    with pytest.raises(V3Error) as info:
        await v3.call("GetPersonList", {"Offset": 0, "Limit": 10})  # same group ("library"): next slot in 0.5 s
    assert info.value.code == UPSTREAM_QUOTA
    assert len(emulator.emulator.faults.admitted_at) == 1
    assert [r.code for r in records] == ["", UPSTREAM_QUOTA]


async def test_a_waiting_call_is_sent_when_its_slot_comes(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.emulator.faults.configure(FaultConfig(qps_limit=1000))
    v3 = client(emulator, session, qps=10, wait_s=1.0, records=[])
    await asyncio.gather(*(v3.call("GetGroupList", {"Offset": 0, "Limit": 10}) for _ in range(5)))
    times = list(emulator.emulator.faults.admitted_at)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 5
    assert all(gap == pytest.approx(0.1, abs=0.03) for gap in gaps), gaps


async def test_a_background_client_sees_every_throttled_try(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    from proxy.limits.quota import Priority

    emulator.emulator.faults.configure(FaultConfig(qps_limit=1))
    v3 = V3Client(
        V3Endpoint(url=emulator.url, region="ap-guangzhou"),
        static_credentials(Credential(*CRED)),
        session,
        quota=UpstreamQuota(LocalSlotBook(), QuotaPlan(default_qps=1000), default_priority=Priority.BACKGROUND),
        quota_wait_s=4.0,
    )
    await v3.call("GetGroupList", {"Offset": 0, "Limit": 10})
    with pytest.raises(V3Error) as info:  # the backfill's own pacing needs the signal
        await v3.call("GetGroupList", {"Offset": 0, "Limit": 10})
    assert info.value.code == "RequestLimitExceeded"
