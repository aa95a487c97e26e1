"""Command line: ``python -m gateway serve | demo | token | schema``.

Configuration errors are printed naming the setting and exit with status 2, never as a
traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console

from gateway.auth import mint_token
from gateway.contracts import contracts_app
from gateway.demo_secret import demo_secret
from resolvers.plans import PlanError

app = typer.Typer(help="GraphQL personalisation gateway.", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL schema snapshot.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(contracts_app, name="contracts")
config_app = typer.Typer(help="The effective configuration.", no_args_is_help=True)
experiments_app = typer.Typer(help="Experiments: results per variant.", no_args_is_help=True)
app.add_typer(experiments_app, name="experiments")
app.add_typer(config_app, name="config")
console = Console(stderr=True)

DEMO_PORTS = {
    "catalog": 8101,
    "retrieval": 8102,
    "ranking": 8103,
    "bandit": 8104,
    "popularity": 8105,
}


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
    """Run the gateway alone against the configured backend URLs."""
    import uvicorn

    from gateway.metrics import reset_multiprocess_dir

    _check_config()
    reset_multiprocess_dir()
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        timeout_graceful_shutdown=10,
    )


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
    for name, backend_port in DEMO_PORTS.items():
        env.setdefault(f"PGW_{name.upper()}__BASE_URL", f"http://127.0.0.1:{backend_port}")
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
        for name, backend_port in DEMO_PORTS.items()
    ]
    try:
        _wait_healthy([f"http://127.0.0.1:{p}/healthz" for p in DEMO_PORTS.values()], timeout_s=120)
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


@schema_app.command("export")
def schema_export(
    out: Annotated[Path, typer.Option(help="Where to write the SDL.")] = Path(
        "schema/schema.graphql"
    ),
) -> None:
    """Write the live schema's SDL to the committed snapshot."""
    from schema import export_sdl

    out.write_text(export_sdl(), encoding="utf-8")
    console.print(f"wrote {out}")


@schema_app.command("check")
def schema_check(
    snapshot: Annotated[Path, typer.Option(help="The committed SDL to compare with.")] = Path(
        "schema/schema.graphql"
    ),
    allow_deprecated_removal: Annotated[
        bool,
        typer.Option(
            help="Let fields the snapshot deprecated be removed (dangerous, not breaking)."
        ),
    ] = False,
) -> None:
    """Compare the live schema with the snapshot; exit 1 on a breaking change.

    Also validates the shipped client operations (schema/operations/) against the live schema.
    """
    from rich.markup import escape

    from gateway.schema_check import check, validate_operations
    from schema import export_sdl

    live = export_sdl()
    result = check(
        live,
        snapshot.read_text(encoding="utf-8"),
        allow_deprecated_removal=allow_deprecated_removal,
    )
    out = Console(soft_wrap=True, highlight=False)
    for change in result.changes:
        colour = "red" if change in result.breaking else "yellow"
        out.print(f"[{colour}]{escape(str(change))}[/{colour}]")
    broken = validate_operations(live)
    for name, errors in broken.items():
        for error in errors:
            out.print(f"[red]{escape(f'[breaking] shipped operation {name}: {error}')}[/red]")
    if not result.identical and result.ok:
        out.print(f"{snapshot} differs from the live schema: run `make schema` and commit it")
    summary = (
        f"{len(result.breaking)} breaking, {len(result.dangerous)} dangerous change(s); "
        f"{len(broken)} shipped operation(s) broken"
    )
    if not result.ok or broken:
        out.print(f"[red]schema check failed: {summary}[/red]")
        raise typer.Exit(code=1)
    out.print(f"[green]schema check passed: {summary}[/green]")


@app.command()
def evaluate(
    gateway_url: Annotated[str, typer.Option(help="The running gateway.")] = (
        "http://127.0.0.1:8000"
    ),
    retrieval_url: Annotated[
        str,
        typer.Option(
            envvar="PGW_RETRIEVAL__BASE_URL", help="Retrieval backend (serves the hold-out)."
        ),
    ] = "http://127.0.0.1:8102",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Held-out orders.")] = 500,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Pages in flight; the demo backends keep up with ~2.")
    ] = 2,
    replay_local_time: Annotated[
        bool,
        typer.Option(help="Build each page as of the order's time (X-Debug-Local-Time)."),
    ] = True,
) -> None:
    """Replay held-out demo orders: hit-rate@10 and NDCG@10 of For you vs popularity."""
    from gateway.evaluate import main as run_evaluation

    raise typer.Exit(
        code=run_evaluation(
            gateway_url,
            retrieval_url,
            limit=limit,
            concurrency=concurrency,
            replay_local_time=replay_local_time,
        )
    )


@experiments_app.command("report")
def experiments_report(
    log: Annotated[
        list[Path] | None,
        typer.Option(help="Decision log file(s); default: the configured PGW_DECISION_LOG_PATH."),
    ] = None,
) -> None:
    """Exposures, click-through and order rates per variant, with 95 % intervals."""
    from gateway.experiments_report import render, report
    from gateway.settings import Settings

    paths = log or [p for p in [Settings().decision_log_path] if p is not None]
    missing = [p for p in paths if not p.exists()]
    if not paths or missing:
        console.print(f"[red]no decision log at {', '.join(map(str, missing or paths))}[/red]")
        raise typer.Exit(code=1)
    Console().print(render(report(paths)))


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


def main() -> None:
    app()
