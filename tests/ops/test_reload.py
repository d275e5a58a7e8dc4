"""SIGHUP and POST /reload on a real `v1proxy serve`: new tenants work, a broken file is refused and logged."""

from __future__ import annotations

import http.client
import json
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from qcloud_image import CIBuffer

from proxy.emulator.synthetic import subject_photo
from tests.ops.conftest import TENANT_A, TENANT_B, Proc, Proxy, config, legacy_client, start_proxy, write_config


def wait_in_log(proc: Proc, text: str, count: int = 1, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logged = proc.stderr()
        if logged.count(text) >= count:
            return logged
        time.sleep(0.05)
    raise AssertionError(f"{text!r} x{count} not logged: {proc.stderr()[-2000:]}")


def keepalive_getinfo(conn: http.client.HTTPConnection) -> int:
    conn.request("POST", "/face/getinfo", body=b"", headers={"Content-Length": "0"})
    response = conn.getresponse()
    body = json.loads(response.read())
    code: int = body["code"]
    return code


def test_sighup_adds_a_tenant_and_refuses_a_broken_file(tmp_path: Path, fast_emulator: str, legacy_host: None) -> None:
    cfg = tmp_path / "proxy.yaml"
    store = tmp_path / "meta.db"
    write_config(cfg, config(fast_emulator, store, tenants=(TENANT_A,)))
    proxy: Proxy = start_proxy(cfg, tmp_path / "proxy.log")
    try:
        photo = CIBuffer(subject_photo(0, 0))
        assert legacy_client(proxy, TENANT_A).face_newperson("a1", ["g"], photo)["code"] == 0
        refused = legacy_client(proxy, TENANT_B).face_newperson("b1", ["g"], photo)
        assert refused["code"] == 10  # tenant B (its appid) is not configured yet
        conn = http.client.HTTPConnection(proxy.address, timeout=10)
        assert keepalive_getinfo(conn) == 4  # unsigned: refused from the header alone, before the body
        sock = conn.sock
        assert sock is not None

        write_config(cfg, config(fast_emulator, store, tenants=(TENANT_A, TENANT_B)))
        proxy.proc.popen.send_signal(signal.SIGHUP)
        logged = wait_in_log(proxy.proc, '"config.reloaded"')
        assert TENANT_B[0] in logged
        assert legacy_client(proxy, TENANT_B).face_newperson("b1", ["g"], photo)["code"] == 0
        # the connection opened before the reload is still the one serving
        assert keepalive_getinfo(conn) == 4
        assert conn.sock is sock

        # a broken file: refused with the exact problem, the running config keeps serving
        broken = config(fast_emulator, store, tenants=(TENANT_A,))
        broken["tenants"][0]["legacy_keys"] = []
        write_config(cfg, broken)
        proxy.proc.popen.send_signal(signal.SIGHUP)
        logged = wait_in_log(proxy.proc, '"config.reload_refused"')
        refusal = next(json.loads(line) for line in logged.splitlines() if '"config.reload_refused"' in line)
        assert refusal["level"] == "error"
        assert refusal["problems"][0]["path"] == "tenants.0.legacy_keys"
        assert "at least 1" in refusal["problems"][0]["expected"]
        assert legacy_client(proxy, TENANT_B).face_getinfo("b1")["code"] == 0
        assert legacy_client(proxy, TENANT_A).face_getinfo("a1")["code"] == 0

        # the same through the admin listener
        request = urllib.request.Request(f"{proxy.admin_url}/reload", method="POST")  # noqa: S310 - loopback
        try:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
            raise AssertionError("a broken config was applied")
        except urllib.error.HTTPError as exc:
            assert exc.code == 422
            assert any("tenants.0.legacy_keys" in p for p in json.loads(exc.read())["problems"])
        write_config(cfg, config(fast_emulator, store, tenants=(TENANT_B,)))
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            assert json.loads(answer.read())["applied"] is True
        assert (
            legacy_client(proxy, TENANT_A).face_getinfo("a1")["code"] == 10
        )  # removed tenant: its appid is unknown now
        assert legacy_client(proxy, TENANT_B).face_getinfo("b1")["code"] == 0
        conn.close()
    finally:
        assert proxy.proc.stop() == 0
