"""The floor baseline: the least a Python hop must do — read the body, TC3-sign a v3-sized body, one upstream call.

Run: python -m tests.bench.floor --port P --upstream URL --bodies DIR --secret-id ID --secret-key KEY
It runs on the same event loop as the proxy (uvloop unless --event-loop asyncio).
`POST /floor/<name>` reads the whole request body, then sends DIR/<name>.json (the v3 body the
proxy would send for that request, with its action in DIR/<name>.action) to the upstream, signed
over its SHA-256 exactly as v3 wants, and answers with the upstream's reply bytes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from proxy import eventloop
from proxy.v3 import signer

UPSTREAM: web.AppKey[aiohttp.ClientSession] = web.AppKey("upstream", aiohttp.ClientSession)


def make_app(upstream: str, bodies: Path, credential: signer.Credential) -> web.Application:
    host = upstream.removeprefix("http://").rstrip("/")
    table = {
        path.stem: (path.read_bytes(), path.with_suffix(".action").read_text().strip())
        for path in bodies.glob("*.json")
    }

    async def forward(request: web.Request) -> web.Response:
        await request.read()
        body, action = table[request.match_info["name"]]
        timestamp = int(time.time())
        headers = {
            "Authorization": signer.authorization(
                credential=credential,
                service="iai",
                host=host,
                content_type="application/json",
                payload=body,
                timestamp=timestamp,
            ),
            "Content-Type": "application/json",
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": "2020-03-03",
            "X-TC-Region": "ap-guangzhou",
        }
        async with request.app[UPSTREAM].post(upstream + "/", data=body, headers=headers) as reply:
            raw = await reply.read()
        return web.Response(body=raw, content_type="application/json")

    async def session(app: web.Application):  # type: ignore[no-untyped-def]
        app[UPSTREAM] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        yield
        await app[UPSTREAM].close()

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.cleanup_ctx.append(session)
    app.router.add_post("/floor/{name}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--bodies", type=Path, required=True)
    parser.add_argument("--secret-id", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--event-loop", choices=("uvloop", "asyncio"), default="uvloop", help="as the proxy's")
    args = parser.parse_args()
    app = make_app(args.upstream.rstrip("/"), args.bodies, signer.Credential(args.secret_id, args.secret_key))
    factory = eventloop.loop_factory(args.event_loop)
    web.run_app(
        app,
        loop=factory() if factory else None,
        host=args.host,
        port=args.port,
        access_log=None,
        print=lambda _: print(f"floor listening on http://{args.host}:{args.port}", flush=True),
    )


if __name__ == "__main__":
    main()
