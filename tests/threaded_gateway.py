"""A real gateway over the fake backends on a free loopback port, served by uvicorn in a
thread: real HTTP for clients outside Python (Node, Chromium) without the live stack's six
processes."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.app import create_app
from tests.fakes import FakeBackends
from tests.gateway.conftest import gateway_settings
from tests.live import free_port


@contextlib.contextmanager
def serving(
    tmp_path: Path,
    fakes: FakeBackends | None = None,
    *,
    real: tuple[str, ...] = (),
    **overrides: Any,
) -> Iterator[str]:
    """Yields the gateway's base URL (``http://127.0.0.1:PORT``); ``overrides`` are settings;
    the backends in ``real`` are reached over the network at their ``base_url``."""
    import uvicorn

    fakes = fakes or FakeBackends()
    settings = gateway_settings(tmp_path, fakes, **{"rate_limit_enabled": False, **overrides})
    transports = {k: v for k, v in fakes.transports.items() if k not in real}
    app = create_app(settings, transports=transports)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        assert thread.is_alive(), "the gateway's server thread died"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
