"""`v1proxy demo` shows the staged path: the tenant in shadow, and the printed lines move it to canary 50% and v3."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from qcloud_image import CIFile, Client
from qcloud_image.conf import Conf

from proxy.commands.demo import DEMO_APPID, DEMO_BUCKET, DEMO_SECRET_ID, DEMO_SECRET_KEY

LEGACY_SESSION = re.compile(r"[0-9a-f]{32}")
V3_SESSION = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_demo_moves_a_tenant_from_shadow_to_canary_and_v3() -> None:
    args = ["--port", "0", "--emulator-port", "0", "--legacy-port", "0", "--admin-port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "demo", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    original = Conf._Conf__SERVICE_ADDR
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "Ctrl-C stops it.":
            line = proc.stdout.readline()
            assert line, "the demo stopped early:\n" + "\n".join(lines)
            lines.append(line.rstrip("\n"))
        text = "\n".join(lines)
        proxy = re.search(r"proxy \(speaks v1\)\s+http://(\S+)", text)
        admin = re.search(r"admin\s+(http://\S+)", text)
        photos = re.search(r"sample photos\s+(\S+)", text)
        assert proxy and admin and photos, text
        assert "route shadow" in text and "legacy v1 emulator" in text
        moves = [line for line in lines if line.startswith("sed -i 's/route: ")]
        assert len(moves) == 2 and "canary 50%" in moves[0] and "route: v3/" in moves[1]
        Conf._Conf__SERVICE_ADDR = proxy.group(1)
        client = Client(DEMO_APPID, DEMO_SECRET_ID, DEMO_SECRET_KEY, DEMO_BUCKET)
        photo = Path(photos.group(1))
        enrolled = client.face_newperson("alice", ["staff"], CIFile(str(photo / "subject0_photo0.jpg")), "Alice")
        assert enrolled["code"] == 0 and LEGACY_SESSION.fullmatch(enrolled["data"]["session_id"])  # shadow: v1
        for move in moves:
            result = subprocess.run(move, shell=True, capture_output=True, text=True, timeout=30, check=True)  # noqa: S602 - the printed line, as a user pastes it
            assert json.loads(result.stdout)["applied"] is True
        with urllib.request.urlopen(f"{admin.group(1)}/readyz", timeout=10) as response:  # noqa: S310 - http admin URL
            checks = {c["name"]: c["ok"] for c in json.loads(response.read())["checks"]}
        assert checks["legacy_v1"] is True
        # wait for the outbox to bring alice into v3, then v3 answers her
        for _ in range(100):
            reply = client.face_verify("alice", CIFile(str(photo / "subject0_photo1.jpg")))
            if V3_SESSION.fullmatch(reply["data"]["session_id"]):
                break
        assert reply["code"] == 0 and reply["data"]["ismatch"] is True
        assert V3_SESSION.fullmatch(reply["data"]["session_id"]), reply
    finally:
        Conf._Conf__SERVICE_ADDR = original
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
