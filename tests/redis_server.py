"""A private ``redis-server`` on a free loopback port (never the shared one on 6379).

``durable=True`` runs it as the events Redis is deployed (decision 0017): an append-only
file fsynced every second and ``noeviction``; otherwise as the cache (nothing persisted).
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from tests.live import free_port

DURABLE = ("--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction")
CACHE = ("--appendonly", "no", "--maxmemory-policy", "allkeys-lru")


@contextlib.contextmanager
def redis_server(data_dir: Path, *, durable: bool, timeout_s: float = 30) -> Iterator[int]:
    """Start one; yields its port; stops it (SIGTERM) on exit."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(data_dir), *(DURABLE if durable else CACHE)],
        stdout=(data_dir / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {port} not up within {timeout_s}s")
            time.sleep(0.05)
        client.close()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
