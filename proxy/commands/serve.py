"""`v1proxy serve --config FILE [--workers N]`: run the proxy and its admin listener until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import signal
import socket
import sys
from multiprocessing.connection import Connection

import structlog
from aiohttp import web

from proxy import eventloop, logs
from proxy.admin.app import ADMIN_STATE, create_admin_app
from proxy.app import create_app, legacy_runner
from proxy.config import Compiled, compile_settings, load_compiled
from proxy.lifecycle import reload_config
from proxy.settings import Settings, SettingsError, config_path

log = structlog.get_logger("proxy.serve")

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

HELP = "run the proxy (config from --config or $V1PROXY_CONFIG)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML configuration (default: $V1PROXY_CONFIG)")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port with SO_REUSEPORT (default 1)"
    )


def _url(scheme: str, address: tuple[str, int]) -> str:
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    return f"{scheme}://{host}:{address[1]}"


async def serve(
    config: Settings | Compiled,
    path: str,
    *,
    ports: tuple[int, int] | None = None,
    reuse_port: bool = False,
    ready: Connection | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT, reload on SIGHUP; then drain within drain.grace_s. Returns 0.

    A failure while starting (store, port in use...) releases whatever was opened before it propagates.
    """
    compiled = config if isinstance(config, Compiled) else compile_settings(config)
    settings = compiled.settings
    listen_port, admin_port = ports or (settings.listen.port, settings.admin.port)
    context = compiled.tls
    app = create_app(compiled)
    admin = create_admin_app(app, reload=lambda: reload_config(app, path))
    runner = legacy_runner(app, shutdown_timeout=settings.drain.grace_s)
    admin_runner = web.AppRunner(admin, access_log=None, shutdown_timeout=1.0)
    try:
        await runner.setup()
        await admin_runner.setup()
        await web.TCPSite(
            runner, settings.listen.host, listen_port, ssl_context=context, reuse_port=reuse_port or None
        ).start()
        await web.TCPSite(admin_runner, settings.admin.host, admin_port, reuse_port=reuse_port or None).start()
        scheme = "https" if context else "http"
        lines = (
            f"v1proxy listening on {_url(scheme, runner.addresses[0])}\n"
            f"admin listening on {_url('http', admin_runner.addresses[0])}"
        )
        if ready is not None:
            ready.send(lines)
            ready.close()
        else:
            print(lines, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: reload_config(app, path))
        # a worker is forked with these blocked (see supervise): deliver them now that they are handled
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        await stop.wait()
        log.info("drain.start", grace_s=settings.drain.grace_s, pid=os.getpid())
        admin[ADMIN_STATE].draining = True
    finally:
        # stop accepting, let in-flight requests finish (up to grace_s), then close v3 session and store
        await runner.cleanup()
        await admin_runner.cleanup()
    log.info("drain.done", pid=os.getpid())
    return 0


FD_RESERVE = 256  # descriptors beyond the connection cap: v3 pool, store, admin, logs


def raise_fd_limit(max_connections: int) -> None:
    """Raise the soft RLIMIT_NOFILE toward what the connection cap needs (up to the hard limit); warn if short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + FD_RESERVE
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning("serve.fd_limit_low", nofile=soft, max_connections=max_connections, wanted=wanted)


def _reserve(host: str, port: int) -> tuple[socket.socket, int]:
    """Bind (not listen) a SO_REUSEPORT socket: fixes the port workers share when 0 was asked."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock, int(sock.getsockname()[1])


def _worker(settings: Settings, path: str, ports: tuple[int, int], ready: Connection) -> None:
    sys.exit(
        eventloop.run(serve(settings, path, ports=ports, reuse_port=True, ready=ready), loop=settings.listen.event_loop)
    )


def supervise(settings: Settings, path: str, workers: int) -> int:
    """Fork `workers` processes sharing both ports; forward SIGTERM/SIGINT/SIGHUP; 0 when all exit 0."""
    listen_sock, listen_port = _reserve(settings.listen.host, settings.listen.port)
    admin_sock, admin_port = _reserve(settings.admin.host, settings.admin.port)
    forwarded = SIGNALS
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, forwarded)  # until children exist
    ctx = multiprocessing.get_context("fork")
    procs = []
    lines = ""
    try:
        for _ in range(workers):
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(settings, path, (listen_port, admin_port), send))
            proc.start()
            send.close()
            procs.append((proc, receive))

        def forward(signum: int, _: object) -> None:
            for proc, _receive in procs:
                if proc.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signum)

        for sig in forwarded:
            signal.signal(sig, forward)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    failed = []
    for proc, receive in procs:
        try:
            lines = receive.recv()
        except EOFError:
            failed.append(proc)
    listen_sock.close()
    admin_sock.close()
    if failed:  # fail fast, as a whole: never serve on fewer workers than asked for
        print(f"v1proxy: worker(s) {' '.join(str(p.pid) for p in failed)} failed to start", file=sys.stderr)
        for proc, _receive in procs:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
    elif lines:
        print(f"{lines}\nworkers: {' '.join(str(p.pid) for p, _ in procs)}", flush=True)
    codes = []
    for proc, _receive in procs:
        proc.join()
        codes.append(proc.exitcode)
    return 0 if not failed and all(code == 0 for code in codes) else 1


def run(args: argparse.Namespace) -> int:
    try:
        path = config_path(args.config)
        compiled = load_compiled(path)  # the same step check-config and reload take
    except SettingsError as exc:
        print("v1proxy: configuration refused:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("v1proxy: --workers must be at least 1", file=sys.stderr)
        return 2
    settings = compiled.settings
    logs.configure(settings.logging.format, settings.logging.level)
    raise_fd_limit(settings.limits.max_connections)
    if args.workers > 1:
        return supervise(settings, path, args.workers)
    return eventloop.run(serve(compiled, path), loop=settings.listen.event_loop)
