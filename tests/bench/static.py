"""A tiny static file server for the emulator to download `Url` images from.

Run: python -m tests.bench.static DIR PORT  (prints `static listening on http://127.0.0.1:PORT`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web


def main() -> None:
    root, port = Path(sys.argv[1]), int(sys.argv[2])
    app = web.Application()
    app.router.add_static("/", root)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=lambda _: print(f"static listening on http://127.0.0.1:{port}", flush=True),
    )


if __name__ == "__main__":
    main()
