"""Command line: ``python -m gateway serve | demo | token | config | schema | contracts | …``.

The server's own commands live here; the tools (``tools/``: schema check, Pact verifier,
offline evaluation, experiments report) are sub-commands of the same command line but are
imported only when one of them is invoked, so ``serve`` loads none of them.

Configuration errors are printed naming the setting and exit with status 2, never as a
traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib import import_module
from typing import Annotated, BinaryIO

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from typer._click.core import Command, Context  # typer vendors click since 0.2x
from typer.core import TyperGroup

from clients.contracts.ports import REFERENCE_PORTS, reference_url
from gateway.auth import mint_token
from gateway.demo_secret import demo_secret
from resolvers.plans import PlanError

#: Sub-command → ``module:Typer app`` of the tool that implements it, imported on use.
TOOL_COMMANDS = {
    "contracts": "tools.pact_verifier:contracts_app",
    "evaluate": "tools.evaluate:evaluate_app",
    "experiments": "tools.experiments_report:experiments_app",
    "operations": "tools.operations_manifest:operations_app",
    "schema": "tools.schema_check:schema_app",
}


class WithLazyTools(TyperGroup):
    """The gateway's commands plus :data:`TOOL_COMMANDS`, each imported when it is asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *TOOL_COMMANDS])

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        target = TOOL_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command = typer.main.get_command(getattr(import_module(module), attribute))
        command.name = cmd_name
        return command


app = typer.Typer(cls=WithLazyTools, help="GraphQL personalisation gateway.", no_args_is_help=True)
config_app = typer.Typer(help="The effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
decisions_app = typer.Typer(help="The decision log.", no_args_is_help=True)
app.add_typer(decisions_app, name="decisions")
console = Console(stderr=True)


def _config_error(exc: Exception) -> typer.Exit:
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            where = "PGW_" + "__".join(str(p) for p in err["loc"]).upper()
            console.print(f"[red]invalid configuration:[/red] {where}: {err['msg']}")
    else:
        console.print(f"[red]invalid configuration:[/red] {exc}")
    return typer.Exit(code=2)


def _check_config() -> None:
    """Build the app once so bad settings or plans fail here, with a readable message."""
    from gateway.app import create_app
    from gateway.settings import Settings

    try:
        create_app(Settings())
    except (ValidationError, PlanError) as exc:
        raise _config_error(exc) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="PGW_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PGW_PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="Processes; about one per core.")] = 1,
) -> None:
    """Run the gateway alone against the configured backend URLs.

    Exits 0 after SIGTERM/SIGINT, 1 when a worker cannot start (the reason on one log line),
    2 on invalid configuration (``gateway.serve``).
    """
    from gateway.metrics import reset_multiprocess_dir, serve_metrics
    from gateway.serve import serve as run
    from gateway.settings import Settings

    _check_config()
    metrics_port = Settings().metrics_port
    if metrics_port is not None:  # /metrics off the API port (decision 0016)
        serve_metrics(host, metrics_port)
    if workers == 1:
        reset_multiprocess_dir()
    raise typer.Exit(code=run(host, port, workers))


@app.command()
def token(
    user_id: Annotated[str, typer.Argument(help="Demo user id, u0001 … u5000.")],
    ttl_s: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 86_400,
) -> None:
    """Print a bearer token for USER_ID signed with the demo key (or PGW_JWT_SECRET)."""
    secret = os.environ.get("PGW_JWT_SECRET") or demo_secret()
    typer.echo(mint_token(user_id, secret, ttl_s=ttl_s))


def _wait_healthy(urls: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    with httpx.Client(timeout=1.0) as client:
        while pending and time.monotonic() < deadline:
            for url in list(pending):
                try:
                    if client.get(url).status_code == 200:
                        pending.remove(url)
                except httpx.HTTPError:
                    pass
            if pending:
                time.sleep(0.2)
    if pending:
        raise RuntimeError(f"not healthy within {timeout_s:.0f}s: {', '.join(pending)}")


def _unwind_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8000,
    user: Annotated[str, typer.Option(help="Sample user for the printed token.")] = "u0042",
) -> None:
    """Start the five reference backends and the gateway; Ctrl-C stops everything."""
    import uvicorn

    secret = demo_secret()
    env = {
        **os.environ,
        "PGW_ENVIRONMENT": "demo",
        "PGW_DEBUG": os.environ.get("PGW_DEBUG", "true"),
        "PGW_INTROSPECTION": os.environ.get("PGW_INTROSPECTION", "true"),
        "PGW_JWT_SECRET": secret,
    }
    for name in REFERENCE_PORTS:
        env.setdefault(f"PGW_{name.upper()}__BASE_URL", reference_url(name))
    os.environ.update(env)
    console.print("starting the reference backends …")
    # SIGTERM (docker stop, systemd, `timeout`) must stop the backends as Ctrl-C does. uvicorn
    # handles SIGTERM while it serves, then restores this handler and raises the signal again
    # after its graceful shutdown; with the default handler the process would die there and
    # leave the five backends running.
    signal.signal(signal.SIGTERM, _unwind_on_sigterm)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "backends", "serve", name, "--port", str(backend_port)],
            env=env,
        )
        for name, backend_port in REFERENCE_PORTS.items()
    ]
    try:
        _wait_healthy([f"{reference_url(name)}/healthz" for name in REFERENCE_PORTS], timeout_s=120)
        _check_config()
        bearer = mint_token(user, secret)
        # Plain echo, not rich: the token must stay on one line to be copy-pasteable.
        typer.echo(
            f"\nPersonalisation gateway demo\n"
            f"  GraphQL:  http://127.0.0.1:{port}/graphql\n"
            f"  GraphiQL: http://127.0.0.1:{port}/graphql (open in a browser)\n"
            f"  Metrics:  http://127.0.0.1:{port}/metrics\n\n"
            f"Request header for user {user} (more: python -m gateway token USER_ID):\n"
            f'  {{"Authorization": "Bearer {bearer}"}}\n\n'
            "Try: { discovery(location: {lat: 60.1699, lon: 24.9384}) "
            "{ degraded sections { title source } } }\n"
            "Ctrl-C stops everything.\n"
        )
        uvicorn.run(
            "gateway.app:create_app",
            factory=True,
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            timeout_graceful_shutdown=5,
            log_config=None,  # uvicorn's lines through gateway.logs' JSON renderer
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _mask_url(url: str | None) -> str | None:
    """A URL with its password replaced, e.g. redis://:secret@host -> redis://:***@host."""
    if not url:
        return url
    parsed = httpx.URL(url)
    return str(parsed.copy_with(password="***")) if parsed.password else url


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration (PGW_* variables and defaults), secrets masked."""
    import json

    from gateway.settings import Settings
    from resolvers.plans import load_plans

    try:
        settings = Settings()
        plans = load_plans(settings.plans_path)
    except (ValidationError, PlanError) as exc:
        raise _config_error(exc) from None
    effective = settings.model_dump(mode="json")
    effective["redis_url"] = _mask_url(settings.redis_url)
    effective["plans"] = {
        "reserve_ms": plans.reserve_ms,
        "surfaces": {
            name.value: {"budget_ms": p.budget_ms, "sections": [s.id for s in p.sections]}
            for name, p in plans.surfaces.items()
        },
    }
    typer.echo(json.dumps(effective, indent=2, sort_keys=True))


@decisions_app.command("export")
def decisions_export(
    out: Annotated[
        str, typer.Option(help="JSON-lines file to write; - for standard output.")
    ] = "-",
) -> None:
    """Write the off-policy dataset (decision and feedback lines, oldest first) from the
    durable decision stream on PGW_EVENTS_REDIS_URL, in the decision log's JSON-lines form."""
    import asyncio

    from gateway.feedback import decisions_stream_key
    from gateway.settings import Settings
    from resolvers.events.decision_stream import export_lines

    try:
        settings = Settings()
    except ValidationError as exc:
        raise _config_error(exc) from None
    if not settings.events_redis_url:
        console.print(
            "[red]PGW_EVENTS_REDIS_URL is not set:[/red] without it the decision log is the "
            f"local file PGW_DECISION_LOG_PATH ({settings.decision_log_path})"
        )
        raise typer.Exit(code=2)
    url = settings.events_redis_url

    async def export(handle: BinaryIO) -> int:
        from clients.redis import redis_client

        redis = redis_client(url, timeout_s=10.0, connect_timeout_s=2.0)
        lines = 0
        try:
            async for line in export_lines(redis, decisions_stream_key(settings)):
                handle.write(line)
                lines += 1
        finally:
            await redis.aclose()
        return lines

    if out == "-":
        written = asyncio.run(export(sys.stdout.buffer))
        sys.stdout.flush()
    else:
        with open(out, "wb") as handle:
            written = asyncio.run(export(handle))
    console.print(f"{written} lines exported")


def main() -> None:
    app()
