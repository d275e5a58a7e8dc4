"""SIGTERM on a real `v1proxy serve` during a newperson: the write completes, v3 has it, exit 0."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from proxy.emulator.synthetic import subject_photo
from tests.ops.conftest import config, legacy_client, start_proxy, write_config


def test_sigterm_lets_a_write_in_flight_finish(tmp_path: Path, emulator: str, legacy_host: None) -> None:
    cfg = tmp_path / "proxy.yaml"
    write_config(cfg, config(emulator, tmp_path / "meta.db", drain={"grace_s": 20}))
    proxy = start_proxy(cfg, tmp_path / "proxy.log")
    photo = tmp_path / "alice.jpg"
    photo.write_bytes(subject_photo(0, 0))
    from qcloud_image import CIFile

    client = legacy_client(proxy)
    reply: dict[str, Any] = {}

    def newperson() -> None:
        reply.update(client.face_newperson("alice", ["staff"], CIFile(str(photo)), "Alice", "desk"))

    thread = threading.Thread(target=newperson)
    thread.start()
    time.sleep(0.5)  # the request is in: the emulator answers each v3 call after 800 ms
    assert thread.is_alive()
    proxy.proc.popen.send_signal(signal.SIGTERM)
    # while draining: not ready, no new connections on the legacy port
    time.sleep(0.2)
    try:
        urllib.request.urlopen(f"{proxy.admin_url}/readyz", timeout=2)  # noqa: S310 - loopback
        raise AssertionError("readyz answered 200 while draining")
    except urllib.error.HTTPError as exc:
        assert exc.code == 503
        assert json.loads(exc.read())["checks"][0]["name"] == "draining"
    try:
        urllib.request.urlopen(f"{proxy.url}/face/getinfo", data=b"", timeout=2)  # noqa: S310
        raise AssertionError("the legacy port still accepts new requests while draining")
    except urllib.error.URLError as exc:
        assert isinstance(exc.reason, ConnectionRefusedError), exc
    thread.join(30)
    assert reply.get("code") == 0, reply
    assert reply["data"]["person_id"] == "alice"
    assert proxy.proc.popen.wait(30) == 0
    logged = proxy.proc.stderr()
    assert "drain.start" in logged and "drain.done" in logged

    # v3 has the person, face and group: restart the proxy on the same store and ask through it
    again = start_proxy(cfg, tmp_path / "proxy2.log")
    try:
        client = legacy_client(again)
        info = client.face_getinfo("alice")
        assert info["code"] == 0, info
        assert info["data"]["person_name"] == "Alice"
        assert info["data"]["group_ids"] == ["staff"]
        assert len(info["data"]["face_ids"]) == 1
    finally:
        assert again.proc.stop() == 0
