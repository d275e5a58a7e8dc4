"""`v1proxy demo`: both emulators and the proxy wired together -- the staged path -- with lines to paste.

The demo tenant starts in ``shadow``: the legacy v1 emulator answers, v3 gets every write through the
outbox and every read in the background. The lines printed move it to ``canary 50%`` and ``v3`` by
editing the YAML and POSTing /reload to the admin listener (SIGHUP does the same).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiohttp import web

from proxy import eventloop, logs
from proxy.admin.app import create_admin_app
from proxy.app import create_app, legacy_runner
from proxy.emulator.app import EmulatorConfig, RunningEmulator, start_emulator
from proxy.emulator.faults import FaultConfig
from proxy.emulator.synthetic import subject_photo
from proxy.legacy.app import LegacyApp, LegacyConfig, RunningLegacy, start_legacy
from proxy.lifecycle import reload_config
from proxy.settings import Settings, load_settings, parse_settings

HELP = "run the emulator and the proxy together, with a demo tenant and a throwaway store"

DEMO_APPID = "1250000000"
DEMO_BUCKET = "demo"
DEMO_SECRET_ID = "AKIDv1proxyDemoLegacyKey"  # noqa: S105 - a published demo credential
DEMO_SECRET_KEY = "demo-legacy-secret-key"  # noqa: S105 - a published demo credential
DEMO_V3_ID = "AKIDv1proxyDemoV3Key"
DEMO_V3_KEY = "demo-v3-secret-key"


def demo_settings(*, host: str, port: int, upstream_url: str, store_url: str, isolated: bool = True) -> Settings:
    return parse_settings(
        {
            "listen": {"host": host, "port": port},
            "upstream": {"endpoint": upstream_url, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
            "tenants": [
                {
                    "appid": DEMO_APPID,
                    "isolated": isolated,
                    "legacy_keys": [{"secret_id": DEMO_SECRET_ID, "secret_key": DEMO_SECRET_KEY}],
                }
            ],
            "store": {"url": store_url},
            "logging": {"format": "console"},
        }
    )


@dataclass
class Stack:
    """A running emulator + proxy pair."""

    emulator: RunningEmulator
    proxy: web.AppRunner
    proxy_url: str

    async def close(self) -> None:
        await self.proxy.cleanup()
        await self.emulator.close()


async def start_stack(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    emulator_port: int = 0,
    store_url: str,
    latency_ms: int = 0,
    settings_for: Callable[[str], Settings] | None = None,
) -> Stack:
    """Start the emulator, then the proxy pointed at it (`settings_for(emulator_url)` or the demo's)."""
    emulator = await start_emulator(
        EmulatorConfig(credentials=((DEMO_V3_ID, DEMO_V3_KEY),), faults=FaultConfig(latency_ms=latency_ms)),
        host=host,
        port=emulator_port,
    )
    settings = (
        settings_for(emulator.url)
        if settings_for
        else demo_settings(host=host, port=port, upstream_url=emulator.url, store_url=store_url)
    )
    runner = legacy_runner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return Stack(emulator=emulator, proxy=runner, proxy_url=f"http://{bound[0]}:{bound[1]}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="the proxy's port (default 8080)")
    parser.add_argument("--emulator-port", type=int, default=9000, help="the v3 emulator's port (default 9000)")
    parser.add_argument("--latency-ms", type=int, default=0, help="emulated v3 latency")
    parser.add_argument("--legacy-port", type=int, default=9010, help="the legacy v1 emulator's port (default 9010)")
    parser.add_argument("--admin-port", type=int, default=9100, help="the proxy's admin port (default 9100)")


def staged_config(
    *, host: str, port: int, admin_port: int, upstream_url: str, legacy_url: str, store_url: str
) -> dict[str, object]:
    """The demo's YAML: the demo tenant in shadow between the legacy emulator and the v3 emulator."""
    return {
        "listen": {"host": host, "port": port},
        "admin": {"host": host, "port": admin_port},
        "upstream": {"endpoint": upstream_url, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
        "tenants": [
            {"appid": DEMO_APPID, "legacy_keys": [{"secret_id": DEMO_SECRET_ID, "secret_key": DEMO_SECRET_KEY}]}
        ],
        "store": {"url": store_url},
        "logging": {"format": "console"},
        "migration": {
            "legacy": {"endpoint": legacy_url},
            "tenants": {DEMO_APPID: {"route": "shadow"}},
        },
    }


def staged_lines(config: Path, admin_url: str) -> str:
    reload = f"curl -s -X POST {admin_url}/reload"
    return f"""# The demo tenant is in shadow: v1 (the legacy emulator) answers, v3 gets the writes and shadowed reads.
# Move it on (each line edits the YAML and reloads it; nothing restarts, no connection drops):
sed -i 's/route: shadow/route: canary 50%/' {config} && {reload}
sed -i 's/route: canary 50%/route: v3/' {config} && {reload}
# and back to v1 at any step:   sed -i 's/route: .*/route: v1/' {config} && {reload}
# which side answered, outbox depth, redirects, fallbacks:
curl -s {admin_url}/metrics | grep -E 'v1proxy_(migration|outbox)'
curl -s {admin_url}/readyz"""


def snippet(proxy_url: str, photos: Path) -> str:
    address = proxy_url.removeprefix("http://")
    a, b, c = (photos / f"subject0_photo{i}.jpg" for i in range(3))
    other = photos / "subject1_photo0.jpg"
    return f"""\
# Python 2/3, `pip install qcloud-image==1.0.0` — the legacy v1 SDK, unmodified:
from qcloud_image import Client, CIFile, CIFiles
from qcloud_image.conf import Conf
Conf._Conf__SERVICE_ADDR = "{address}"   # the one edit: the v1 host now points at the proxy
client = Client("{DEMO_APPID}", "{DEMO_SECRET_ID}", "{DEMO_SECRET_KEY}", "{DEMO_BUCKET}")
print(client.face_newperson("alice", ["staff", "visitors"], CIFile("{a}"), "Alice", "front desk"))
print(client.face_addface("alice", CIFiles(["{b}"])))
print(client.face_verify("alice", CIFile("{c}")))
print(client.face_identify("staff", CIFile("{c}")))
print(client.face_compare(CIFile("{a}"), CIFile("{other}")))
print(client.face_getinfo("alice"))"""


async def _serve(args: argparse.Namespace, workdir: Path) -> None:
    photos = workdir / "faces"
    photos.mkdir()
    for subject in range(3):
        for photo in range(3):
            (photos / f"subject{subject}_photo{photo}.jpg").write_bytes(subject_photo(subject, photo))
    legacy: RunningLegacy = await start_legacy(
        LegacyConfig(apps=(LegacyApp(DEMO_APPID, DEMO_SECRET_ID, DEMO_SECRET_KEY),)), args.host, args.legacy_port
    )
    config_path = workdir / "proxy.yaml"

    def settings_for(upstream_url: str) -> Settings:
        config = staged_config(
            host=args.host,
            port=args.port,
            admin_port=args.admin_port,
            upstream_url=upstream_url,
            legacy_url=legacy.url,
            store_url=f"sqlite:///{workdir / 'meta.db'}",
        )
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return load_settings(str(config_path))

    stack = await start_stack(
        host=args.host,
        port=args.port,
        emulator_port=args.emulator_port,
        store_url=f"sqlite:///{workdir / 'meta.db'}",
        latency_ms=args.latency_ms,
        settings_for=settings_for,
    )
    app = stack.proxy.app
    admin = web.AppRunner(create_admin_app(app, reload=lambda: reload_config(app, str(config_path))), access_log=None)
    await admin.setup()
    await web.TCPSite(admin, args.host, args.admin_port).start()
    admin_host, admin_port = admin.addresses[0][:2]
    admin_url = f"http://{admin_host}:{admin_port}"
    print(
        f"v1proxy demo\n"
        f"  proxy (speaks v1)     {stack.proxy_url}   appid {DEMO_APPID}  bucket {DEMO_BUCKET}\n"
        f"  legacy key            SecretId {DEMO_SECRET_ID}  SecretKey {DEMO_SECRET_KEY}\n"
        f"  legacy v1 emulator    {legacy.url}   (the backend the demo tenant migrates from)\n"
        f"  v3 emulator           {stack.emulator.url}   SecretId {DEMO_V3_ID}  SecretKey {DEMO_V3_KEY}\n"
        f"  admin                 {admin_url}   /metrics /readyz POST /reload\n"
        f"  configuration         {config_path}   (tenant {DEMO_APPID}: route shadow)\n"
        f"  sample photos         {photos}\n"
        f"  store                 {workdir / 'meta.db'} (deleted on exit)\n\n"
        f"{snippet(stack.proxy_url, photos)}\n\n"
        f"{staged_lines(config_path, admin_url)}\n\n"
        f"Ctrl-C stops it.",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await admin.cleanup()
        await stack.close()
        await legacy.close()


def run(args: argparse.Namespace) -> int:
    logs.configure("console", "info")
    with tempfile.TemporaryDirectory(prefix="v1proxy-demo-") as tmp:
        eventloop.run(_serve(args, Path(tmp)))
    return 0
