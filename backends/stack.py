"""Start the five reference backends as subprocesses, for the demo and end-to-end tests.

Usage::

    from backends.stack import BackendStack

    with BackendStack({"catalog": 8101, "retrieval": 8102, ...}) as stack:
        stack.wait_ready_sync(timeout=30)          # or: await stack.wait_ready(timeout=30)
        stack.urls["ranking"]                      # "http://127.0.0.1:8103"

Each backend runs ``python -m backends serve NAME --port P`` in its own process (as in
production, one service per process), so faults, crashes and restarts are independent.
Before spawning, the dataset and the ranking model are built once in the parent (cheap if
cached), so the five children only *load* caches and a warm start stays a few seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from backends.config import BACKEND_NAMES, PROJECT_ROOT, REFERENCE_PORTS


def free_port() -> int:
    """An ephemeral TCP port free right now (for tests running beside a demo stack)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _caches_exist(env: dict[str, str]) -> bool:
    from backends.dataset import DATASET_VERSION
    from backends.ranking.logic import MODEL_VERSION

    root = (
        Path(env["PGW_DEMO_CACHE_DIR"])
        if env.get("PGW_DEMO_CACHE_DIR")
        else PROJECT_ROOT / ".cache"
    )
    seed = env.get("PGW_DEMO_SEED", "42")
    data = root / "demo-data" / f"dataset-v{DATASET_VERSION}-seed{seed}.pkl"
    models = list(
        (root / "models").glob(f"ranking-data{DATASET_VERSION}-seed{seed}-*-m{MODEL_VERSION}.pkl")
    )
    return data.exists() and bool(models)


class BackendStack:
    """Sync context manager owning the five backend subprocesses.

    ``ports`` maps backend name → port; missing names use the demo defaults, and only the
    named backends are started if ``only`` is given.
    """

    def __init__(
        self,
        ports: dict[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        only: list[str] | None = None,
        prepare: bool = True,
        log_dir: str | Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.ports = {**REFERENCE_PORTS, **(ports or {})}
        self.names = [n for n in BACKEND_NAMES if only is None or n in only]
        self.host = host
        self.prepare = prepare
        self.log_dir = Path(log_dir) if log_dir else None
        self.env = env or {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def urls(self) -> dict[str, str]:
        return {n: f"http://{self.host}:{self.ports[n]}" for n in self.names}

    def start(self) -> BackendStack:
        if self.prepare:
            self._prepare_caches()
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        for name in self.names:
            out = subprocess.DEVNULL
            if self.log_dir:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self.procs[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "backends",
                    "serve",
                    name,
                    "--host",
                    self.host,
                    "--port",
                    str(self.ports[name]),
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def _prepare_caches(self) -> None:
        """Build dataset and model caches in one child first, so five processes don't race.

        Skipped when both cache files already exist (a cheap glob, no imports), which keeps
        the warm start to the children's own start-up time.
        """
        env = {**os.environ, **self.env}
        if _caches_exist(env):
            return
        subprocess.run(
            [sys.executable, "-m", "backends", "train"],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    async def wait_ready(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Poll every backend's ``/healthz`` until all answer 200; raise on timeout/crash."""
        deadline = time.monotonic() + timeout
        pending = set(self.names)
        async with httpx.AsyncClient(timeout=1.0) as client:
            while pending:
                for name in list(pending):
                    proc = self.procs.get(name)
                    if proc is not None and proc.poll() is not None:
                        raise RuntimeError(f"backend {name} exited with {proc.returncode}")
                    try:
                        r = await client.get(f"{self.urls[name]}/healthz")
                        if r.status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if not pending:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"backends not ready after {timeout}s: {sorted(pending)}")
                await asyncio.sleep(0.1)

    def wait_ready_sync(self, timeout: float = 60.0) -> None:
        """:meth:`wait_ready` for sync callers (must not be called inside a running loop)."""
        asyncio.run(self.wait_ready(timeout))

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM each child (its own session), SIGKILL stragglers."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(end - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self.procs.clear()

    def __enter__(self) -> BackendStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
