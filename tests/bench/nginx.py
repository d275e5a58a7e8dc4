"""nginx as the plain reverse proxy baseline: a generated config in a temp dir, run in the foreground."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.bench.harness import SERVER_CORE, Proc, pinned

CONFIG = """\
worker_processes 1;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 64m;
    client_body_buffer_size 16m;
    upstream v3 {{
        server {upstream};
        keepalive 128;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://v3;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering on;
            proxy_request_buffering on;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def start_nginx(root: Path, port: int, upstream: str) -> Proc:
    """nginx forwarding 127.0.0.1:<port> to `upstream` (host:port); raises RuntimeError if absent."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
    root.mkdir(parents=True, exist_ok=True)
    (root / "nginx.conf").write_text(CONFIG.format(root=root, port=port, upstream=upstream))
    log = root / "nginx.stderr"
    popen = subprocess.Popen(
        pinned(SERVER_CORE, [binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"]),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text()[-1000:]}")
        try:
            urllib.request.urlopen(url + "/", timeout=1).close()  # noqa: S310 - local
            break
        except urllib.error.HTTPError:
            break  # it answered
        except OSError:
            time.sleep(0.1)
    return Proc("nginx", popen, url, log)
