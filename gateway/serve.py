"""``python -m gateway serve``: the gateway's uvicorn workers under one supervising process.

uvicorn's own multi-worker manager exits 0 when a worker cannot start, so a container whose
gateway can never serve (an unwritable path, an unreachable dependency at start-up) looks
like a clean stop to the orchestrator, and the reason is buried in a traceback. This module
is the contract an operator relies on instead:

- A worker that fails before it is ready makes the whole process exit 1, after stopping the
  other workers, with the reason (the start-up exception, one line) as one JSON log line.
- A worker that dies after it was ready is replaced, and its Prometheus files are marked
  dead so its live gauges leave the aggregate.
- SIGTERM or SIGINT: every worker drains (uvicorn's graceful shutdown), then the process
  exits 0.
- With more than one worker, Prometheus multiprocess mode is always on: the directory is
  ``PROMETHEUS_MULTIPROC_DIR`` when set (emptied at start and at exit), otherwise one the
  gateway makes under the temporary directory and removes at exit.

One worker runs in this process (no supervisor needed), with the same exit contract.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import uvicorn

from gateway.logs import configure_logging

log = structlog.get_logger("gateway.serve")

#: uvicorn's graceful shutdown per worker; the parent waits this plus a margin.
GRACEFUL_S = 10.0
STARTUP_FAILED = 1

_spawn = multiprocessing.get_context("spawn")


def one_line(text: str) -> str:
    """The last non-empty line of a message or traceback (``Type: message``)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown reason"


class _FirstError(logging.Handler):
    """Keeps the first error uvicorn logs: the lifespan's start-up exception (later ones
    only say that start-up failed)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.reason: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.reason is not None or not record.name.startswith("uvicorn"):
            return
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.reason = f"{type(exc).__name__}: {exc}"
        else:
            self.reason = one_line(record.getMessage())


def uvicorn_config(host: str, port: int, workers: int) -> uvicorn.Config:
    """The workers' uvicorn configuration (the app factory is imported in each worker)."""
    return uvicorn.Config(
        "gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        timeout_graceful_shutdown=int(GRACEFUL_S),
        # uvicorn's loggers propagate to the root, which gateway.logs renders as JSON
        log_config=None,
    )


class _Server(uvicorn.Server):
    """A uvicorn server that tells its supervisor once it is ready."""

    def __init__(self, config: uvicorn.Config, ready: Connection | None) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._ready is not None:
            self._ready.send(("ready", ""))


def _ignore(signum: int, frame: FrameType | None) -> None:
    """After its graceful shutdown uvicorn re-raises the signal it caught; with this as the
    handler the process then returns normally (exit 0) instead of dying by the signal."""


def _run_server(config: uvicorn.Config, sockets: list[socket.socket] | None, ready: Any) -> str:
    """Serve until told to stop; returns "" after a clean run, else the start-up failure."""
    configure_logging()
    errors = _FirstError()
    # on the root: gateway.logs (re)configures uvicorn's loggers to propagate there
    logging.getLogger().addHandler(errors)
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    server = _Server(config, ready)
    try:
        server.run(sockets=sockets)
    except SystemExit as exc:
        if server.started:
            return ""
        return errors.reason or f"exited with status {exc.code} before it was ready"
    except Exception as exc:
        if server.started:
            raise
        return f"{type(exc).__name__}: {exc}"
    if not server.started:
        return errors.reason or "stopped before it was ready"
    return ""


def _worker(config: uvicorn.Config, sock: socket.socket, conn: Connection) -> None:
    """A spawned worker: serves on the parent's socket, reports ready or why it failed."""
    config.configure_logging()
    reason = _run_server(config, [sock], conn)
    if reason:
        conn.send(("failed", reason))
        sys.exit(STARTUP_FAILED)


@dataclass
class _Worker:
    number: int
    process: BaseProcess
    conn: Connection
    ready: bool = False
    reason: str | None = None


class _MetricsDir:
    """Prometheus multiprocess mode's directory: the operator's, or one made here."""

    def __init__(self) -> None:
        given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.owned = not given
        self.path = Path(given or tempfile.mkdtemp(prefix="pgw-metrics-"))
        self.path.mkdir(parents=True, exist_ok=True)
        self.empty()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(self.path)

    def empty(self) -> None:
        for stale in self.path.glob("*.db"):
            stale.unlink(missing_ok=True)

    def worker_died(self, pid: int | None) -> None:
        if pid is None:
            return
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(self.path))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.empty()


class Supervisor:
    """Starts N workers on one socket, replaces the ones that die, stops them on a signal."""

    def __init__(self, config: uvicorn.Config, workers: int) -> None:
        self.config = config
        self.count = workers
        self.workers: list[_Worker] = []
        self.stopping = False
        self.metrics = _MetricsDir()

    def _start(self, number: int, sock: socket.socket) -> _Worker:
        parent_end, child_end = _spawn.Pipe(duplex=False)
        process = _spawn.Process(
            target=_worker, args=(self.config, sock, child_end), name=f"gateway-worker-{number}"
        )
        process.start()
        child_end.close()
        return _Worker(number, process, parent_end)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        """Supervise until a signal (exit 0) or a worker that could not start (exit 1)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        sock = self.config.bind_socket()
        failure: _Worker | None = None
        try:
            self.workers = [self._start(n, sock) for n in range(1, self.count + 1)]
            while not self.stopping and failure is None:
                failure = self._tick(sock)
        finally:
            self._stop_all()
            sock.close()
            self.metrics.close()
        if failure is not None:
            log.error(
                "gateway worker could not start",
                worker=failure.number,
                reason=failure.reason or f"exit status {failure.process.exitcode}",
            )
            return STARTUP_FAILED
        return 0

    def _tick(self, sock: socket.socket) -> _Worker | None:
        """Wait for a message or a death (or 0.5 s); returns a worker that failed to start."""
        waitables: list[Any] = [w.conn for w in self.workers]
        waitables += [w.process.sentinel for w in self.workers]
        for ready in wait(waitables, timeout=0.5):
            for w in self.workers:
                if ready is w.conn:
                    try:
                        kind, detail = w.conn.recv()
                    except EOFError:
                        continue
                    if kind == "ready":
                        w.ready = True
                    else:
                        w.reason = detail
        for i, w in enumerate(self.workers):
            if w.process.is_alive():
                continue
            w.process.join()
            self._drain_messages(w)
            self.metrics.worker_died(w.process.pid)
            if not w.ready:
                return w
            if self.stopping:
                continue
            log.warning(
                "gateway worker died; replacing it",
                worker=w.number,
                pid=w.process.pid,
                exit_status=w.process.exitcode,
            )
            w.conn.close()
            self.workers[i] = self._start(w.number, sock)
        return None

    @staticmethod
    def _drain_messages(w: _Worker) -> None:
        try:
            while w.conn.poll():
                kind, detail = w.conn.recv()
                if kind == "failed":
                    w.reason = detail
                elif kind == "ready":
                    w.ready = True
        except (EOFError, OSError):
            pass

    def _stop_all(self) -> None:
        for w in self.workers:
            if w.process.is_alive() and w.process.pid is not None:
                os.kill(w.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACEFUL_S + 5
        for w in self.workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            self.metrics.worker_died(w.process.pid)
            w.conn.close()


def serve(host: str, port: int, workers: int) -> int:
    """Run the gateway; the process's exit status (0 after a signal, 1 if it cannot start)."""
    config = uvicorn_config(host, port, workers)
    if workers > 1:
        return Supervisor(config, workers).run()
    reason = _run_server(config, None, None)
    if reason:
        log.error("gateway could not start", reason=reason)
        return STARTUP_FAILED
    return 0
