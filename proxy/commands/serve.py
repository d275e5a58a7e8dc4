"""`v1proxy serve --config FILE [--workers N]`: run the proxy and its admin listener until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import multiprocessing.connection
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from multiprocessing.connection import Connection

import structlog
from aiohttp import web

from proxy import eventloop, logs
from proxy.admin.app import ADMIN_STATE, create_admin_app
from proxy.app import create_app, legacy_runner
from proxy.config import Compiled, compile_settings, load_compiled
from proxy.lifecycle import reload_config
from proxy.multiprocess import MULTIPROC_ENV, mark_worker_dead, multiprocess_metrics
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
    process_share: float = 1.0,
) -> int:
    """Serve until SIGTERM/SIGINT, reload on SIGHUP; then drain within drain.grace_s. Returns 0.

    A failure while starting (store, port in use...) releases whatever was opened before it propagates.
    """
    compiled = config if isinstance(config, Compiled) else compile_settings(config)
    settings = compiled.settings
    listen_port, admin_port = ports or (settings.listen.port, settings.admin.port)
    context = compiled.tls
    app = create_app(compiled, process_share=process_share)
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
        # What startup built (modules, settings, the app) lives as long as the process: frozen out of the
        # collector's way, a full collection scans only what requests left (a scan of the whole startup
        # heap paused the loop ~100 ms under load, p99 and code 15 with it)
        gc.collect()
        gc.freeze()
        # a young collection traverses what requests in flight hold, however few of its allocations survive:
        # every 10,000 net allocations rather than 700 (2.4% fewer instructions per small request)
        gc.set_threshold(10_000, 10, 10)
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


def _worker(settings: Settings, path: str, ports: tuple[int, int], ready: Connection, workers: int) -> None:
    multiprocess_metrics()  # before the app creates its metrics: values go to the shared directory
    sys.exit(
        eventloop.run(
            serve(settings, path, ports=ports, reuse_port=True, ready=ready, process_share=1 / workers),
            loop=settings.listen.event_loop,
        )
    )


MAX_RESTARTS = 5  # worker deaths within RESTART_WINDOW_S before the whole server gives up (exit 1)
RESTART_WINDOW_S = 60.0


class Workers:
    """The forked workers: start one, forward signals to all, restart one that died while serving."""

    def __init__(self, settings: Settings, path: str, ports: tuple[int, int], count: int) -> None:
        self._settings, self._path, self._ports, self._count = settings, path, ports, count
        self._ctx = multiprocessing.get_context("fork")
        self.procs: list[multiprocessing.process.BaseProcess] = []
        self.stopping = False
        self._deaths: deque[float] = deque()

    def start(self) -> tuple[multiprocessing.process.BaseProcess, Connection]:
        """Fork one worker with the forwarded signals blocked (it unblocks them once it handles them)."""
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            receive, send = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(target=_worker, args=(self._settings, self._path, self._ports, send, self._count))
            proc.start()
            send.close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self.procs.append(proc)
        return proc, receive

    def forward(self, signum: int, _: object) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
        for proc in self.procs:
            if proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    def terminate(self) -> None:
        self.stopping = True
        for proc in self.procs:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)

    def may_restart(self) -> bool:
        """Not stopping, and fewer than MAX_RESTARTS deaths in the last RESTART_WINDOW_S (no crash loop)."""
        now = time.monotonic()
        while self._deaths and now - self._deaths[0] > RESTART_WINDOW_S:
            self._deaths.popleft()
        self._deaths.append(now)
        return not self.stopping and len(self._deaths) <= MAX_RESTARTS


def supervise(settings: Settings, path: str, workers: int) -> int:
    """Fork `workers` processes sharing both ports and one metrics directory; forward SIGTERM/SIGINT/SIGHUP.

    A worker that dies while serving (a crash, the OOM killer, SIGKILL) is replaced by a new one on
    the same ports; more than MAX_RESTARTS deaths within RESTART_WINDOW_S stop the whole server with
    exit 1, so that the orchestrator restarts it. 0 when all workers exit 0 after SIGTERM/SIGINT."""
    listen_sock, listen_port = _reserve(settings.listen.host, settings.listen.port)
    admin_sock, admin_port = _reserve(settings.admin.host, settings.admin.port)
    metrics_dir = tempfile.mkdtemp(prefix="v1proxy-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir  # inherited by every worker forked from here
    pool = Workers(settings, path, (listen_port, admin_port), workers)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # until the handlers forward them
    try:
        started = [pool.start() for _ in range(workers)]
        for sig in SIGNALS:
            signal.signal(sig, pool.forward)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    lines = ""
    failed = []
    for proc, receive in started:
        try:
            lines = receive.recv()
        except EOFError:
            failed.append(proc)
    listen_sock.close()
    admin_sock.close()
    if failed:  # fail fast, as a whole: never serve on fewer workers than asked for
        print(f"v1proxy: worker(s) {' '.join(str(p.pid) for p in failed)} failed to start", file=sys.stderr)
        pool.terminate()
    elif lines:
        print(f"{lines}\nworkers: {' '.join(str(p.pid) for p, _ in started)}", flush=True)
    gave_up = False
    codes: list[int | None] = []
    while pool.procs:
        multiprocessing.connection.wait([p.sentinel for p in pool.procs])
        for proc in [p for p in pool.procs if not p.is_alive()]:
            pool.procs.remove(proc)
            proc.join()
            if proc.pid is not None:
                mark_worker_dead(proc.pid)
            if pool.stopping or failed or gave_up:
                codes.append(proc.exitcode)
                continue
            if not pool.may_restart():
                print(
                    f"v1proxy: worker {proc.pid} exited ({proc.exitcode}); too many restarts, stopping", file=sys.stderr
                )
                gave_up = True
                codes.append(proc.exitcode)
                pool.terminate()
                continue
            replacement, receive = pool.start()
            try:
                receive.recv()
            except EOFError:
                print(
                    f"v1proxy: worker {proc.pid} exited ({proc.exitcode}); its replacement failed to start",
                    file=sys.stderr,
                )
                gave_up = True
                pool.terminate()
                continue
            log.warning("serve.worker_restarted", died=proc.pid, exitcode=proc.exitcode, replacement=replacement.pid)
            print(f"worker {proc.pid} exited ({proc.exitcode}); restarted as {replacement.pid}", flush=True)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0 if not failed and not gave_up and all(code == 0 for code in codes) else 1


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
