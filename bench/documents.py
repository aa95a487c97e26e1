"""Gateway CPU per Discovery request for the documents clients really send, page-cache hits.

``python -m bench.documents [--viewers 200] [--rounds 5] [--base PATH] [--out FILE]``
(~3 minutes): the live stack (five reference backends, one gateway, debug and rate limiting
off, page cache on), ``--viewers`` signed-in demo viewers in rotation, each primed so that
every measured request is a page-cache hit, and three spellings of the same page:

- ``shipped``: ``schema/operations/discovery.graphql`` as the apps ship it;
- ``apollo``: the same with ``__typename`` in every selection set, as Apollo Client and
  Apollo Kotlin send by default (``tests.compiled.clients.apollo_typename``);
- ``own``: a client's own Discovery query — Apollo's ``__typename``, its own fragment names,
  aliases on some fields, other whitespace (``client_spelling``).

Cells (gateway × document, and the plain-FastAPI anchor ``bench.anchor`` answering the same
page) run in a shuffled order each round, all on CPU 0; a cell's figure is the median over
rounds of the process CPU per request. ``--base PATH`` adds the gateway of another checkout
(e.g. a worktree of the commit an issue starts from) with the same settings. Writes the table
and the ratios (each within this one run) to ``--out`` (default
``bench/measured/documents.md``) and the raw figures next to it as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.load import demo_users, load_operation, variables
from bench.sidebyside import anchor, checkout_gateway, cpu_ms_per_request
from tests.compiled.clients import apollo_typename, client_spelling

OUT = Path(__file__).parent / "measured" / "documents.md"
ENV = {
    "PGW_DEBUG": "false",
    "PGW_RATE_LIMIT_ENABLED": "false",
    # every measured request a page-cache hit (a page's minute may still roll over)
    "PGW_PAGE_CACHE_TTL_S": "600",
    "PGW_PAGE_CACHE_MAX_ENTRIES": "5000",
}
CLIENT_ALIASES = {"venues": "places", "name": "label", "sections": "rows", "id": "key"}


def spellings() -> dict[str, tuple[str, str]]:
    """Document name → (text, operation name)."""
    shipped = load_operation("discovery")
    apollo = apollo_typename(shipped.document)
    own = client_spelling(apollo, CLIENT_ALIASES.get)
    return {
        "shipped": (shipped.document, shipped.operation_name),
        "apollo": (apollo, shipped.operation_name),
        "own": (own, "AppHome"),
    }


def requests_for(
    text: str, operation_name: str, viewers: list[Any], token: Callable[[str], str]
) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for user in viewers:
        body = {"query": text, "operationName": operation_name}
        body["variables"] = variables("discovery", user)  # type: ignore[assignment]
        headers = {
            "Authorization": f"Bearer {token(user.user)}",
            "Content-Type": "application/json",
        }
        out.append((json.dumps(body).encode(), headers))
    return out


@contextlib.contextmanager
def _logs(out: Path) -> Iterator[str]:
    """Process logs next to the results (``<out>-logs/``), kept for a failed run."""
    logs = out.with_name(out.stem + "-logs")
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    yield str(logs)


def run(viewers_n: int, rounds: int, base: Path | None, out: Path, seed: int) -> dict[str, Any]:
    from tests.live import live_stack

    viewers = demo_users(viewers_n, seed=seed)
    documents = spellings()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with (
        _logs(out) as logs,
        live_stack(Path(logs), extra_env=ENV) as stack,
        httpx.Client(timeout=30) as client,
        contextlib.ExitStack() as more,
    ):
        from bench.load import can_pin, pin

        gateways: dict[str, tuple[str, subprocess.Popen[bytes]]] = {
            "this": (stack.gateway_url, stack.procs[-1])
        }
        if can_pin():
            pin(stack.procs[-1].pid, 0)
            os.sched_setaffinity(0, {1})
        if base is not None:
            gateways["base"] = more.enter_context(
                checkout_gateway(base, stack, Path(logs), "base", ENV)
            )
        bodies = {
            name: requests_for(text, op, viewers, stack.token)
            for name, (text, op) in documents.items()
        }
        # prime: every viewer's page in each gateway's page cache, every document hot
        for url, _ in gateways.values():
            for name in documents:
                for body, headers in bodies[name]:
                    response = client.post(f"{url}/graphql", content=body, headers=headers)
                    response.raise_for_status()
        page = client.post(
            stack.graphql_url, content=bodies["shipped"][0][0], headers=bodies["shipped"][0][1]
        ).content
        anchor_url, anchor_proc = more.enter_context(anchor(page, stack.secret, Path(logs)))
        cells: dict[str, tuple[str, int, list[tuple[bytes, dict[str, str]]]]] = {
            f"{gw}/{name}": (f"{url}/graphql", proc.pid, bodies[name])
            for gw, (url, proc) in gateways.items()
            for name in documents
        }
        cells["anchor"] = (f"{anchor_url}/page", anchor_proc.pid, bodies["shipped"])
        rng = random.Random(seed)
        figures: dict[str, list[float]] = {cell: [] for cell in cells}
        order = list(cells)
        # one unmeasured pass (connections, lazy imports, the anchor's first pages)
        for cell in order:
            url, pid, requests = cells[cell]
            cpu_ms_per_request(client, url, pid, requests[:20])
        for _ in range(rounds):
            rng.shuffle(order)
            for cell in order:
                url, pid, requests = cells[cell]
                figures[cell].append(cpu_ms_per_request(client, url, pid, requests))
    result = {
        "command": "python -m bench.documents "
        + f"--viewers {viewers_n} --rounds {rounds}"
        + (f" --base {base}" if base else ""),
        "started": started,
        "load_average": os.getloadavg(),
        "cpu_ms_per_request": figures,
        "median": {cell: statistics.median(values) for cell, values in figures.items()},
    }
    write(result, out, list(gateways))
    return result


def write(result: dict[str, Any], out: Path, gateways: list[str]) -> None:
    median = result["median"]
    lines = [
        "# Gateway CPU per Discovery request by document spelling (page-cache hits)",
        "",
        f"Command: `{result['command']}` — started {result['started']}, load average "
        + ", ".join(f"{x:.1f}" for x in result["load_average"])
        + " at the end (shared 2-core machine; compare ratios, not milliseconds).",
        "",
        "| cell | CPU ms/request (median) | all rounds | × anchor |",
        "|---|---:|---|---:|",
    ]
    for cell, values in result["cpu_ms_per_request"].items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        lines.append(
            f"| {cell} | {median[cell]:.2f} | {rounds} | {median[cell] / median['anchor']:.2f} |"
        )
    lines += ["", "| ratio | value |", "|---|---:|"]
    for gw in gateways:
        for name in ("apollo", "own"):
            ratio = median[f"{gw}/{name}"] / median[f"{gw}/shipped"]
            lines.append(f"| {gw}: {name} ÷ shipped | {ratio:.2f} |")
    if "base" in gateways:
        for name in ("shipped", "apollo", "own"):
            ratio = median[f"this/{name}"] / median[f"base/{name}"]
            lines.append(f"| {name}: this ÷ base | {ratio:.2f} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--base", type=Path, help="another checkout's root, with its .venv")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    run(args.viewers, args.rounds, args.base, args.out, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
