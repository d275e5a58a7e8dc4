"""nginx in the benchmark: the plain reverse-proxy baseline, and a canned v3 upstream for capacity runs.

Each runs from a generated config in its own directory, in the foreground, one worker process.
"""

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
{server}
}}
"""

REVERSE_PROXY = """\
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
    }}"""

CANNED = """\
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests 1000000;  # the proxy's pooled connections stay open for the whole run
        location / {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}"""


def nginx_binary() -> str | None:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def start_nginx(root: Path, port: int, upstream: str) -> Proc:
    """nginx forwarding 127.0.0.1:<port> to `upstream` (host:port), pinned to the server core.

    Raises RuntimeError if nginx is absent or does not start.
    """
    return _run(root, port, REVERSE_PROXY.format(port=port, upstream=upstream), core=SERVER_CORE)


def start_canned_v3(root: Path, port: int, body: str, *, core: str | None = None) -> Proc:
    """nginx answering every request on 127.0.0.1:<port> with `200` and the JSON `body` (no signature check).

    Unpinned by default. Raises RuntimeError if nginx is absent or does not start, ValueError if
    `body` cannot be written as an nginx single-quoted string without escaping (', \\ or $).
    """
    if any(c in body for c in "'\\$\n"):
        raise ValueError("a canned body must not contain ', \\, $ or a newline")
    return _run(root, port, CANNED.format(port=port, body=body), core=core)


def _run(root: Path, port: int, server: str, *, core: str | None) -> Proc:
    """Write <root>/nginx.conf around `server` (the http-level blocks), start nginx, wait until it answers."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
    root.mkdir(parents=True, exist_ok=True)
    (root / "nginx.conf").write_text(CONFIG.format(root=root, server=server))
    log = root / "nginx.stderr"
    popen = subprocess.Popen(
        pinned(core, [binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"]),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        if popen.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text()[-1000:]}")
        try:
            urllib.request.urlopen(url + "/", timeout=1).close()  # noqa: S310 - local
            break
        except urllib.error.HTTPError:
            break  # it answered
        except OSError:
            if time.monotonic() > deadline:
                popen.kill()
                popen.wait(5)
                raise RuntimeError(f"nginx did not answer on {url} within 10 s: {log.read_text()[-1000:]}") from None
            time.sleep(0.1)
    return Proc("nginx", popen, url, log)
