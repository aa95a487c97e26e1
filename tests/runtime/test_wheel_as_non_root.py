"""The image's runtime contract, tested without a Docker engine.

The gateway's wheel is built (``uv build --wheel``) and installed with its locked runtime
dependencies into a fresh virtual environment made from Debian's ``/usr/bin/python3.11`` —
not the source tree. ``python -m gateway serve`` then runs from that root-owned application
directory as uid 10001 (``setpriv``), with only the paths the deployment declares writable
(``/tmp``, the image's own directories or volumes) mapped to temporary directories, under
exactly the environment ``docker-compose.yml`` or the production overlay sets
(``tests/runtime/deployments.py`` reads them): only host names and ports become loopback,
pointing at the reference backends and at a private Redis.

Asserted: readiness, a Discovery page, GraphiQL's page and assets served from the installed
wheel, ``/metrics``, a clean exit (0) on SIGTERM, and — with a path left at its default —
an exit status of 1 with the reason on one line.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import pytest
import redis

from gateway.graphiql import ASSETS
from gateway.settings import Settings
from tests.live import LiveStack, free_port, wait_healthy
from tests.redis_server import redis_server
from tests.runtime.deployments import APP_UID, ROOT, Deployment, compose, production

# the session fixtures (wheel, venv, reference backends) may start inside the first test
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

UV = ROOT / ".cache" / "tools" / "bin" / "uv"
SYSTEM_PYTHON = Path("/usr/bin/python3.11")
SETPRIV = shutil.which("setpriv")
DISCOVERY = (
    "query Discovery { discovery(location: {lat: 60.1699, lon: 24.9384}) "
    "{ degraded sections { id title source } } }"
)

if os.geteuid() != 0 or SETPRIV is None or not SYSTEM_PYTHON.exists():
    pytest.skip(
        "needs root, setpriv and Debian's python3.11 to run as another uid",
        allow_module_level=True,
    )


def _uv(*args: str, cwd: Path = ROOT) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    subprocess.run([str(UV), *args], cwd=cwd, env=env, check=True, timeout=300)


@dataclass
class Installed:
    """The wheel installed into ``app/.venv`` under ``base`` (root-owned, mode 755)."""

    base: Path
    app: Path

    @property
    def python(self) -> Path:
        return self.app / ".venv" / "bin" / "python"


@pytest.fixture(scope="session")
def installed() -> Iterator[Installed]:
    base = Path(tempfile.mkdtemp(prefix="pgw-runtime-"))
    base.chmod(0o755)  # uid 10001 must traverse it (pytest's tmp dirs are root-only)
    app = base / "app"
    app.mkdir(mode=0o755)
    try:
        _uv("build", "--wheel", "--out-dir", str(base / "dist"), "--quiet")
        (wheel,) = (base / "dist").glob("*.whl")
        requirements = base / "requirements.txt"
        _uv(
            "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
            "--quiet", "--output-file", str(requirements),
        )  # fmt: skip
        _uv("venv", "--quiet", "--python", str(SYSTEM_PYTHON), str(app / ".venv"))
        install = ["pip", "install", "--quiet", "--python", str(app / ".venv" / "bin" / "python")]
        try:  # from uv's cache (filled by `make setup`), else from the index
            _uv(*install, "--offline", "-r", str(requirements), str(wheel))
        except subprocess.CalledProcessError:
            _uv(*install, "-r", str(requirements), str(wheel))
        yield Installed(base, app)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Redises:
    """Private Redis servers standing in for compose's and the manifests' services."""

    cache: int
    events: int


@pytest.fixture(scope="session")
def private_redis() -> Iterator[Redises]:
    data = Path(tempfile.mkdtemp(prefix="pgw-runtime-redis-"))
    try:
        with (
            redis_server(data / "cache", durable=False) as cache,
            redis_server(data / "events", durable=True) as events,
        ):
            yield Redises(cache, events)
    finally:
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class Run:
    """One gateway process as the deployment describes it, mapped onto this machine."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    root: Path
    env: dict[str, str]

    @property
    def metrics_url(self) -> str:
        """Where /metrics is: its own port when PGW_METRICS_PORT is set, else the API's."""
        port = self.env.get("PGW_METRICS_PORT")
        return f"http://127.0.0.1:{port}/metrics" if port else f"{self.url}/metrics"

    def settings(self) -> Settings:
        with mock.patch.dict(os.environ, self.env, clear=True):
            return Settings()


def _loopback(value: str, services: dict[str, str]) -> str:
    """A URL whose host is a known service (first DNS label), pointed at loopback."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "redis", "rediss") or not parts.hostname:
        return value
    target = services.get(parts.hostname.split(".")[0])
    if target is None:
        return value
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{target}" if userinfo else target
    return urlunsplit(parts._replace(netloc=netloc))


def _map_paths(value: str, paths: dict[str, Path]) -> str:
    for container_path in sorted(paths, key=len, reverse=True):
        if value == container_path or value.startswith(container_path.rstrip("/") + "/"):
            return str(paths[container_path]) + value[len(container_path.rstrip("/")) :]
    return value


def start(
    deployment: Deployment,
    installed: Installed,
    live: LiveStack,
    redises: Redises,
    *,
    drop_env: tuple[str, ...] = (),
) -> Run:
    """Start ``deployment``'s command as uid 10001 from the installed wheel."""
    root = Path(tempfile.mkdtemp(prefix=f"pgw-{deployment.name}-", dir=installed.base))
    root.chmod(0o755)
    paths: dict[str, Path] = {"/app": installed.app}
    for n, container_path in enumerate(deployment.writable):
        host = root / f"rw{n}"
        host.mkdir(mode=0o700)
        os.chown(host, APP_UID, APP_UID)
        paths[container_path] = host
    for n, (container_path, text) in enumerate(deployment.files.items()):
        host_dir = root / f"ro{n}"
        host_dir.mkdir(mode=0o755)
        (host_dir / "file").write_text(text)
        paths[container_path] = host_dir / "file"
    services = {name: urlsplit(url).netloc for name, url in live.backend_urls.items()}
    services["redis"] = f"127.0.0.1:{redises.cache}"
    services["events-redis"] = f"127.0.0.1:{redises.events}"
    env = {
        "HOME": str(installed.app),  # the image's user has /app as home, never created
        "TMPDIR": str(paths["/tmp"]),
        "LANG": "C.UTF-8",
    }
    for key, value in deployment.env.items():
        if key not in drop_env:
            env[key] = _map_paths(_loopback(value, services), paths)
    for name in deployment.secrets:
        env[name] = secrets.token_urlsafe(36)
    if "PGW_METRICS_PORT" in env:
        env["PGW_METRICS_PORT"] = str(free_port())
    port = free_port()
    command = list(deployment.command)
    assert command[:2] == ["python", "-m"], command
    command[0] = str(installed.python)
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    log = root / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SETPRIV or "setpriv", f"--reuid={APP_UID}", f"--regid={APP_UID}",
             "--clear-groups", "--", *command],
            env=env,
            cwd=installed.app,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Run(f"http://127.0.0.1:{port}", proc, log, root, env)


def stop(run: Run) -> int:
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGTERM)
    try:
        return run.proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        run.proc.wait()
        raise


DEPLOYMENTS = {"compose": compose, "production": production}


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_the_installed_wheel_serves_as_uid_10001(
    name: str, installed: Installed, live: LiveStack, private_redis: Redises
) -> None:
    deployment = DEPLOYMENTS[name]()
    run = start(deployment, installed, live, private_redis)
    try:
        wait_healthy(f"{run.url}/readyz", 240, run.proc)
        with httpx.Client(base_url=run.url, timeout=10) as client:
            page = client.post("/graphql", json={"query": DISCOVERY})
            assert page.status_code == 200, page.text
            body = page.json()
            assert "errors" not in body, body
            assert body["data"]["discovery"]["sections"]
            if "PGW_EVENTS_REDIS_URL" in run.env:  # the page's decisions are in the stream
                events = redis.Redis(port=private_redis.events)
                stream = f"{run.settings().cache_namespace}:decisions"
                lines = [orjson.loads(f[b"d"]) for _, f in events.xrange(stream)]
                assert body["data"]["discovery"]["sections"]
                assert any(line.get("request_id") for line in lines)

            ide = client.get("/graphql", headers={"Accept": "text/html"})
            if run.settings().graphiql_enabled:
                assert ide.status_code == 200
                assert "Loading GraphiQL" in ide.text  # the page, not "run make assets"
                marker = '="/graphiql/assets/'
                assets = [part.split('"')[0] for part in ide.text.split(marker)[1:]]
                assert len(assets) == len(ASSETS), ide.text
                for asset in assets:
                    served = client.get(f"/graphiql/assets/{asset}")
                    assert served.status_code == 200, asset
                    assert len(served.content) > 1000, asset
            else:
                assert ide.status_code == 404

            metrics = client.get(run.metrics_url)
            assert metrics.status_code == 200
            # a client's operation name is not a label: only shipped names, else "other"
            assert 'pgw_graphql_requests_total{operation="other"' in metrics.text
            if not run.metrics_url.startswith(run.url):
                assert client.get("/metrics").status_code == 404  # its own port only
    finally:
        status = stop(run)
    output = run.log.read_text(errors="replace")
    assert status == 0, output[-3000:]
    assert "could not start" not in output, output[-3000:]
    # one log stream: uvicorn's, the standard library's and structlog's lines are all JSON
    for line in output.splitlines():
        if line.strip():
            assert json.loads(line)["level"], line


def test_a_worker_that_cannot_start_stops_the_process_with_its_reason(
    installed: Installed, live: LiveStack, private_redis: Redises
) -> None:
    """With the decision log a local file left at its default path (relative to the
    read-only /app), the workers cannot start: the whole process exits 1 and says why, on
    one line."""
    run = start(
        compose(),
        installed,
        live,
        private_redis,
        drop_env=("PGW_DECISION_LOG_PATH", "PGW_EVENTS_REDIS_URL"),
    )
    try:
        status = run.proc.wait(timeout=240)
    finally:
        stop(run)
    assert status == 1
    last = run.log.read_text(errors="replace").strip().splitlines()[-1]
    record = json.loads(last)
    assert record["level"] == "error"
    assert "Permission denied" in record["reason"], record
