"""A real `v1proxy serve`: logs carry the request id and never secrets; TLS with a throwaway CA; workers."""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import trustme
from qcloud_image import CIBuffer, CIFile

from proxy.emulator.synthetic import subject_photo
from tests.ops.conftest import TENANT_A, config, legacy_client, spawn, start_proxy, write_config


def test_logs_carry_the_request_id_and_no_secret_signature_or_image(
    tmp_path: Path, fast_emulator: str, legacy_host: None
) -> None:
    cfg = tmp_path / "proxy.yaml"
    data = config(fast_emulator, tmp_path / "meta.db")
    data["logging"] = {"format": "json", "level": "debug"}
    write_config(cfg, data)
    proxy = start_proxy(cfg, tmp_path / "proxy.log")
    image = subject_photo(3, 0)
    (tmp_path / "face.jpg").write_bytes(image)
    client = legacy_client(proxy)
    signatures: list[str] = []
    sign = client._auth.get_sign

    def recording_sign(bucket: str, howlong: int = 30) -> str | bytes:
        value: str | bytes = sign(bucket, howlong)
        signatures.append(value.decode() if isinstance(value, bytes) else value)
        return value

    client._auth.get_sign = recording_sign
    try:
        assert client.face_newperson("carol", ["g"], CIFile(str(tmp_path / "face.jpg")), "Carol")["code"] == 0
        # a refused signature (wrong key) is logged too, still without the header
        bad = legacy_client(proxy, (TENANT_A[0], TENANT_A[1], "wrong-secret"))
        assert 4 <= bad.face_getinfo("carol")["code"] <= 14
    finally:
        assert proxy.proc.stop() == 0
    logged = proxy.proc.stderr()
    events = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    request = next(e for e in events if e.get("event") == "request" and e.get("op") == "newperson")
    v3_lines = [e for e in events if e.get("event") == "v3_call"]
    assert v3_lines and all(e["request_id"] == request["request_id"] for e in v3_lines[:3])
    assert signatures
    for secret in (TENANT_A[2], "wrong-secret", *signatures, base64.b64encode(image)[100:160].decode()):
        assert secret not in logged
    assert image[200:240].hex() not in logged


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("service.image.myqcloud.com", "127.0.0.1")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for pem in cert.cert_chain_pems[1:]:
        with cert_file.open("ab") as f:
            f.write(pem.bytes())
    return ca_file, cert_file, key_file


def test_tls_termination_with_the_legacy_sdk_over_https(
    tmp_path: Path,
    fast_emulator: str,
    legacy_host: None,
    tls_files: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca_file, cert_file, key_file = tls_files
    cfg = tmp_path / "proxy.yaml"
    write_config(
        cfg, config(fast_emulator, tmp_path / "meta.db", tls={"cert_file": str(cert_file), "key_file": str(key_file)})
    )
    proxy = start_proxy(cfg, tmp_path / "proxy.log")
    try:
        assert proxy.url.startswith("https://127.0.0.1:")
        client = legacy_client(proxy)
        client.use_https()
        # without trusting the throwaway CA, the SDK refuses the certificate
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(Path(__file__)))  # a file with no CA in it
        untrusted: dict[str, Any] = client.face_getinfo("nobody")
        assert untrusted["code"] != 0 and "SSL" in untrusted["message"].upper()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
        reply = client.face_newperson("dave", ["g"], CIBuffer(subject_photo(4, 0)), "Dave")
        assert reply["code"] == 0, reply
        assert client.face_getinfo("dave")["data"]["person_name"] == "Dave"
    finally:
        assert proxy.proc.stop() == 0


def test_two_workers_share_the_port(tmp_path: Path, fast_emulator: str, legacy_host: None) -> None:
    cfg = tmp_path / "proxy.yaml"
    write_config(cfg, config(fast_emulator, tmp_path / "meta.db"))
    proxy = start_proxy(cfg, tmp_path / "proxy.log", "--workers", "2")
    try:
        workers = {int(p) for p in proxy.proc.wait_for(r"workers: ([\d ]+)").group(1).split()}
        assert len(workers) == 2
        seen = set()
        for _ in range(60):
            request = urllib.request.Request(f"{proxy.admin_url}/healthz", headers={"Connection": "close"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
                seen.add(json.loads(answer.read())["pid"])
            if seen == workers:
                break
        assert seen == workers
        client = legacy_client(proxy)
        assert client.face_newperson("erin", ["g"], CIBuffer(subject_photo(5, 0)))["code"] == 0
        for _ in range(6):  # whichever worker answers, the shared store has erin
            assert client.face_getinfo("erin")["code"] == 0
    finally:
        assert proxy.proc.stop() == 0


def test_workers_that_cannot_start_stop_the_whole_server(tmp_path: Path, fast_emulator: str) -> None:
    """A worker that fails to start (here: its store cannot be created) fails `serve --workers` as a whole."""
    (tmp_path / "a-file").write_text("not a directory")
    cfg = tmp_path / "proxy.yaml"
    write_config(cfg, config(fast_emulator, tmp_path / "a-file" / "meta.db"))
    proc = spawn(["serve", "--config", str(cfg), "--workers", "2"], tmp_path / "proxy.log")
    try:
        assert proc.popen.wait(timeout=60) == 1
    finally:
        proc.stop()
    assert "failed to start" in proc.stderr()
    assert proc.popen.stdout is not None and "listening" not in proc.popen.stdout.read()
