"""Gateway CPU per Discovery page built from scratch, side by side with the anchor and a base.

``python -m bench.scratch [--pages 50] [--rounds 4] [--base PATH] [--profile] [--out FILE]``
(~4 minutes): the live stack (five reference backends at 0 ms, debug, rate limiting and the
page cache off), this checkout's gateway, optionally ``--base``'s gateway (another checkout,
same settings) and the plain-FastAPI anchor (``bench.anchor``, answering a recorded page),
all on CPU 0. Each round, in a shuffled order, every gateway builds ``--pages`` Discovery
pages one at a time for viewers it has never seen (catalog entries shared by everyone stay
warm, as in production), and the anchor answers as many; a cell's figure is the median over
rounds of the process CPU per page. ``--profile`` then records this gateway with py-spy
(250 Hz) over one more round of new viewers and keeps the own-time and inclusive shares
(``bench.load.collapse_profile``) — the profile that says where a page's CPU goes.
Writes ``--out`` (default ``bench/measured/scratch.md``) and its JSON twin.
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
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.load import can_pin, collapse_profile, demo_users, load_operation, pin, variables
from bench.sidebyside import anchor, checkout_gateway, cpu_ms_per_request

OUT = Path(__file__).parent / "measured" / "scratch.md"
ENV = {"PGW_DEBUG": "false", "PGW_RATE_LIMIT_ENABLED": "false", "PGW_PAGE_CACHE_TTL_S": "0"}
WARM_UP_VIEWERS = 40


@contextlib.contextmanager
def _logs(out: Path) -> Iterator[Path]:
    logs = out.with_name(out.stem + "-logs")
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    yield logs


def run(pages: int, rounds: int, base: Path | None, profile: bool, out: Path) -> None:
    from tests.live import live_stack

    operation = load_operation("discovery")
    gateways_n = 2 if base else 1
    viewers = iter(
        demo_users(WARM_UP_VIEWERS * gateways_n + pages * (rounds * gateways_n + 3) + 1, 3)
    )
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def requests(n: int, token: Any) -> list[tuple[bytes, dict[str, str]]]:
        return [
            (
                operation.body(variables("discovery", user), "standard"),
                {"Authorization": f"Bearer {token(user.user)}", "Content-Type": "application/json"},
            )
            for user in (next(viewers) for _ in range(n))
        ]

    with (
        _logs(out) as logs,
        live_stack(logs, extra_env=ENV) as stack,
        httpx.Client(timeout=30) as client,
        contextlib.ExitStack() as more,
    ):
        gateways = {"this": (stack.gateway_url, stack.procs[-1].pid)}
        if can_pin():
            pin(stack.procs[-1].pid, 0)
            os.sched_setaffinity(0, {1})
        if base is not None:
            url, proc = more.enter_context(checkout_gateway(base, stack, logs, "base", ENV))
            gateways["base"] = (url, proc.pid)
        for url, pid in gateways.values():
            cpu_ms_per_request(
                client, f"{url}/graphql", pid, requests(WARM_UP_VIEWERS, stack.token)
            )
        first = requests(1, stack.token)[0]
        page = client.post(stack.graphql_url, content=first[0], headers=first[1]).content
        anchor_url, anchor_proc = more.enter_context(anchor(page, stack.secret, logs))
        anchor_requests = requests(pages, stack.token)
        cpu_ms_per_request(client, f"{anchor_url}/page", anchor_proc.pid, anchor_requests[:20])
        figures: dict[str, list[float]] = {name: [] for name in [*gateways, "anchor"]}
        rng = random.Random(5)
        for _ in range(rounds):
            order = list(figures)
            rng.shuffle(order)
            for name in order:
                if name == "anchor":
                    figures[name].append(
                        cpu_ms_per_request(
                            client, f"{anchor_url}/page", anchor_proc.pid, anchor_requests
                        )
                    )
                    continue
                url, pid = gateways[name]
                figures[name].append(
                    cpu_ms_per_request(client, f"{url}/graphql", pid, requests(pages, stack.token))
                )
        summary: dict[str, Any] = {}
        if profile:
            summary = _profile(client, stack, gateways["this"], requests(pages, stack.token), logs)
    median = {name: statistics.median(values) for name, values in figures.items()}
    result = {
        "command": f"python -m bench.scratch --pages {pages} --rounds {rounds}"
        + (f" --base {base}" if base else "")
        + (" --profile" if profile else ""),
        "started": started,
        "load_average": os.getloadavg(),
        "cpu_ms_per_page": figures,
        "median": median,
        "profile": summary,
    }
    write(result, out)


def _profile(
    client: httpx.Client,
    stack: Any,
    gateway: tuple[str, int],
    requests: list[tuple[bytes, dict[str, str]]],
    logs: Path,
) -> dict[str, Any]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return {"error": "py-spy not installed"}
    raw = logs / "scratch.profile.txt"
    url, pid = gateway
    proc = subprocess.Popen(
        [
            *(spy, "record", "--pid", str(pid), "--rate", "250", "--nonblocking"),
            *("--format", "raw", "--output", str(raw), "--duration", "600"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    time.sleep(1.0)
    try:
        cpu_ms_per_request(client, f"{url}/graphql", pid, requests)
    finally:
        proc.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    if not raw.exists():
        return {"error": "py-spy wrote nothing"}
    return collapse_profile(raw.read_text(), top=30)


def write(result: dict[str, Any], out: Path) -> None:
    median = result["median"]
    lines = [
        "# Gateway CPU per Discovery page built from scratch (new viewers, backends at 0 ms)",
        "",
        f"Command: `{result['command']}` — {result['started']}, load average "
        + ", ".join(f"{x:.1f}" for x in result["load_average"])
        + " at the end (shared 2-core machine; compare ratios, not milliseconds).",
        "",
        "| process | CPU ms/page (median) | all rounds | × anchor |",
        "|---|---:|---|---:|",
    ]
    for name, values in result["cpu_ms_per_page"].items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        lines.append(
            f"| {name} | {median[name]:.2f} | {rounds} | {median[name] / median['anchor']:.1f} |"
        )
    if "base" in median:
        lines += ["", f"this ÷ base: **{median['this'] / median['base']:.2f}** (target ≤ 0.33)"]
    profile = result["profile"]
    if profile.get("self"):
        lines += ["", "## Profile of `this` (py-spy, own time, share of samples)", ""]
        lines += [f"- {share:.1%} {name}" for name, share in profile["self"]]
        lines += ["", "## Inclusive", ""]
        lines += [f"- {share:.1%} {name}" for name, share in profile["inclusive"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scratch", description=__doc__)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--base", type=Path, help="another checkout's root, with its .venv")
    parser.add_argument("--profile", action="store_true", help="py-spy this gateway after")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    run(args.pages, args.rounds, args.base, args.profile, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
