"""CLI: ``python -m backends serve NAME|all [--port P]``, ``train``, ``snapshot``, ``evaluate``,
``simulate``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from backends.config import BACKEND_NAMES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backends", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run one backend, or all five in one process")
    p_serve.add_argument("name", choices=[*BACKEND_NAMES, "all"])
    p_serve.add_argument("--port", type=int, default=None, help="port (single backend only)")
    p_serve.add_argument("--host", default="127.0.0.1")
    sub.add_parser("data", help="generate (or load) the cached demo dataset")
    p_train = sub.add_parser("train", help="train and cache the ranking models")
    p_train.add_argument("--force", action="store_true", help="retrain even if cached")
    sub.add_parser("evaluate", help="hit rate@10 of the models vs popularity on held-out orders")
    p_snap = sub.add_parser("snapshot", help="write the gateway's cold-start popularity snapshot")
    p_snap.add_argument("--out", default="gateway/data/reference_snapshot.json")
    p_sim = sub.add_parser(
        "simulate", help="the learning loop against a simulated population (decision 0018)"
    )
    p_sim.add_argument("--impressions", type=int, default=20_000)
    p_sim.add_argument("--seed", type=int, default=1)
    p_sim.add_argument("--policies", default="hierarchical,flat,uniform")
    p_sim.add_argument("--concurrency", type=int, default=3, help="pages in flight per policy")
    p_sim.add_argument("--ope-seeds", type=int, default=20)
    p_sim.add_argument("--no-live", action="store_true", help="in process only (no HTTP)")
    p_sim.add_argument(
        "--budget-s", type=float, default=None, help="wall-clock bound of each live run"
    )
    p_sim.add_argument("--out", default="docs/results")
    args = parser.parse_args(argv)

    if args.command == "serve":
        from backends.server import serve, serve_all

        if args.name == "all":
            if args.port is not None:
                parser.error("--port applies to a single backend")
            serve_all(args.host)
        else:
            serve(args.name, args.host, args.port)
        return 0
    if args.command == "data":
        from backends.dataset import dataset_path, get_dataset

        t = time.perf_counter()
        ds = get_dataset()
        print(
            f"{dataset_path(ds.seed)} fingerprint={ds.fingerprint} "
            f"in {time.perf_counter() - t:.2f}s"
        )
        return 0
    if args.command == "train":
        from backends.ranking.logic import load_or_train
        from backends.world import get_world

        bundle = load_or_train(get_world(), retrain=args.force)
        print(json.dumps({"hashes": bundle.hashes, "trained_in_s": round(bundle.trained_in_s, 2)}))
        return 0
    if args.command == "evaluate":
        from backends.ranking.logic import evaluate, get_ranker

        print(json.dumps(evaluate(get_ranker()), indent=2))
        return 0
    if args.command == "simulate":
        from pathlib import Path

        from backends.simulation.run import Options
        from backends.simulation.run import main as simulate

        return simulate(
            Options(
                impressions=args.impressions,
                seed=args.seed,
                policies=tuple(p for p in args.policies.split(",") if p),
                concurrency=args.concurrency,
                ope_seeds=args.ope_seeds,
                live=not args.no_live,
                budget_s=args.budget_s,
                out=Path(args.out),
            )
        )
    if args.command == "snapshot":
        from backends.snapshot import write_snapshot

        path = write_snapshot(args.out)
        print(f"wrote {path}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
