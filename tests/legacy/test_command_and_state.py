"""`v1proxy legacy-emulator` as a process: the ready line, several app sets, --state across a restart, --latency-ms."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qcloud_image import CIBuffer, CIBuffers, Client
from qcloud_image.conf import Conf

from proxy.emulator.synthetic import subject_photo
from tests.legacy.conftest import fails, ok

READY = re.compile(r"legacy emulator listening on (http://127\.0\.0\.1:(\d+))")
APPS = [("1250000101", "AKIDcmdA", "key-a"), ("1250000102", "AKIDcmdB", "key-b")]


@contextmanager
def legacy_process(*extra: str) -> Iterator[str]:
    args = [sys.executable, "-m", "proxy", "legacy-emulator", "--port", "0"]
    for appid, secret_id, secret_key in APPS:
        args += ["--appid", appid, "--secret-id", secret_id, "--secret-key", secret_key]
    proc = subprocess.Popen([*args, *extra], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = READY.fullmatch(line.strip())
        assert match, line
        original = Conf._Conf__SERVICE_ADDR
        Conf._Conf__SERVICE_ADDR = match.group(1).removeprefix("http://")
        try:
            yield match.group(1)
        finally:
            Conf._Conf__SERVICE_ADDR = original
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "legacy.json"
    a = Client(*APPS[0], "bkt")
    b = Client(*APPS[1], "bkt")
    with legacy_process("--state", str(state), "--seed", "3"):
        first = ok(a.face_newperson("keeper", ["g1", "g2"], CIBuffer(subject_photo(0, 0)), "Kim", "t1"))["face_id"]
        added = ok(a.face_addface("keeper", CIBuffers([subject_photo(0, 1)]), "ft"))["face_ids"]
        ok(b.face_newperson("other", ["gb"], CIBuffer(subject_photo(1, 0))))
        before = ok(a.face_verify("keeper", CIBuffer(subject_photo(0, 2))))["confidence"]
    saved = json.loads(state.read_text())
    assert saved["version"] == 1 and {acc["appid"] for acc in saved["accounts"]} == {APPS[0][0], APPS[1][0]}
    assert not list(tmp_path.glob(".legacy.json.*"))  # the atomic write left no temporary file
    with legacy_process("--state", str(state), "--seed", "3"):
        info = ok(a.face_getinfo("keeper"))
        assert (info["person_name"], info["tag"], info["face_ids"], info["group_ids"]) == (
            "Kim",
            "t1",
            [first, *added],
            ["g1", "g2"],
        )
        assert ok(a.face_verify("keeper", CIBuffer(subject_photo(0, 2))))["confidence"] == before
        assert ok(b.face_getpersonids("gb"))["person_ids"] == ["other"]
        fails(a.face_getpersonids("gb"), -1306)
        new_face = ok(a.face_addface("keeper", CIBuffers([subject_photo(0, 3)])))["face_ids"][0]
        assert new_face not in (first, *added)


def test_latency_is_added_to_every_request() -> None:
    client = Client(*APPS[0], "bkt")
    with legacy_process("--latency-ms", "300"):
        started = time.monotonic()
        fails(client.face_getinfo("nobody"), -1303)
        assert time.monotonic() - started >= 0.3


def test_bad_arguments_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "legacy-emulator", "--appid", "1", "--secret-id", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "in sets" in result.stderr
