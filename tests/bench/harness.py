"""Processes of a benchmark run: start/stop with pinning, free ports, CPU and memory from /proc."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
V1PROXY = str(Path(PYTHON).with_name("v1proxy"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
HAS_TASKSET = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
SERVER_CORE, CLIENT_CORE = "0", "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(core: str | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", core, *argv] if core is not None and HAS_TASKSET else argv


@dataclass
class Proc:
    """A started server: its process, the URL it printed, its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def start(name: str, argv: list[str], *, ready: str, workdir: Path, core: str | None, timeout: float = 30) -> Proc:
    """Start `argv` (pinned to `core`), wait for a stdout line containing `ready`; its last word is the URL."""
    log = workdir / f"{name}.log"
    out = log.open("wb")
    popen = subprocess.Popen(pinned(core, argv), stdout=subprocess.PIPE, stderr=out, cwd=REPO)
    assert popen.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        line = popen.stdout.readline().decode("utf-8", "replace")
        if ready in line:
            proc = Proc(name, popen, line.split()[-1], log)
            break
        if (not line and popen.poll() is not None) or time.monotonic() > deadline:
            popen.kill()
            raise RuntimeError(f"{name} did not start: see {log}\n{log.read_text()[-2000:]}")
    # keep draining stdout so the server never blocks on a full pipe
    stdout = popen.stdout
    threading.Thread(target=shutil.copyfileobj, args=(stdout, out), daemon=True).start()
    return proc


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (its own accounting, threads included), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


def memory_kb(pid: int, key: str) -> int:
    """A line of /proc/<pid>/status in kB (VmHWM = peak RSS, VmRSS = now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class Workdir:
    """A temporary directory for configs, bodies, logs; kept with --keep."""

    path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="v1proxy-bench-")))

    def write(self, name: str, data: bytes) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


def run_loadgen(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run the load generator in its own process on the client core; returns its JSON result."""
    spec_path = workdir / "loadgen-spec.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run(
        pinned(CLIENT_CORE, [PYTHON, "-m", "tests.bench.loadgen", str(spec_path)]),
        capture_output=True,
        cwd=REPO,
        check=False,
        timeout=float(spec["seconds"]) + float(spec.get("warmup", 0.5)) + 120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.decode()[-2000:]}")
    return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))
