"""Decoding the real backend bodies: pydantic v2 against msgspec Structs, CPU per body.

``python -m bench.decode [--users 60] [--rounds 7] [--out FILE]`` (~1 minute): the reference
backends are built as ``python -m backends serve`` builds them and asked, in process
(``bench.backends``), what a Discovery page asks them for viewers never seen before — the
retrieval, rank and decide batches, the catalog's venue, brand and item batches, the
popular list. Each recorded body is then decoded into the gateway's contract type by:

- ``pydantic``: ``Model.model_validate_json`` — what ``BackendClient.attempt`` does today;
- ``pydantic-adapter``: a ``TypeAdapter(Model)``'s ``validate_json`` (the same core
  validator reached without the model's class method);
- ``msgspec``: a ``msgspec.json.Decoder`` of frozen ``msgspec.Struct`` types generated
  from the same pydantic contract (``structs_for``: same field names, types, defaults and
  numeric/length bounds), so there is still one contract definition.

Each decoder must give the same data as pydantic (``to_builtins`` against
``model_dump(mode="json")``) on every body before it is timed; the table gives the best
round's CPU µs per body per endpoint (``time.process_time``), and the ratio to pydantic.
Writes ``--out`` (default ``bench/measured/decode.md``) and its JSON twin.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import json
import os
import tempfile
import time
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from bench.backends import asgi_call, workload
from clients.contracts.bandit import DecideBatchResponse
from clients.contracts.catalog import BrandsBatch, ItemsBatch, VenuesBatch
from clients.contracts.popularity import PopularResponse
from clients.contracts.ranking import RankBatchResponse
from clients.contracts.retrieval import CandidatesBatchResponse

OUT = Path(__file__).parent / "measured" / "decode.md"
MODELS: dict[str, type[BaseModel]] = {
    "/v1/candidates:batch": CandidatesBatchResponse,
    "/v1/rank:batch": RankBatchResponse,
    "/v1/decide:batch": DecideBatchResponse,
    "/v1/venues:batchGet": VenuesBatch,
    "/v1/brands:batchGet": BrandsBatch,
    "/v1/items:batchGet": ItemsBatch,
    "/v1/popular": PopularResponse,
}


def structs_for(model: type[BaseModel], made: dict[type[BaseModel], Any] | None = None) -> Any:
    """A frozen ``msgspec.Struct`` type with ``model``'s fields (nested models too)."""
    import msgspec

    made = {} if made is None else made
    if model in made:
        return made[model]
    fields: list[tuple[str, Any, Any]] = []
    for name, info in model.model_fields.items():
        annotation = _msgspec_type(info.annotation, made)
        bounds: dict[str, Any] = {}
        for meta in info.metadata:
            for attr, key in (
                ("ge", "ge"),
                ("gt", "gt"),
                ("le", "le"),
                ("lt", "lt"),
                ("min_length", "min_length"),
                ("max_length", "max_length"),
            ):
                if getattr(meta, attr, None) is not None:
                    bounds[key] = getattr(meta, attr)
        if bounds:
            annotation = typing.Annotated[annotation, msgspec.Meta(**bounds)]
        if info.is_required():
            fields.append((name, annotation, msgspec.NODEFAULT))
        elif info.default_factory is not None:
            fields.append((name, annotation, msgspec.field(default_factory=info.default_factory)))  # type: ignore[arg-type]
        else:
            fields.append((name, annotation, info.default))
    ordered = [f for f in fields if f[2] is msgspec.NODEFAULT] + [
        f for f in fields if f[2] is not msgspec.NODEFAULT
    ]
    struct = msgspec.defstruct(
        model.__name__,
        [(n, t) if d is msgspec.NODEFAULT else (n, t, d) for n, t, d in ordered],
        frozen=True,
        forbid_unknown_fields=False,
    )
    made[model] = struct
    return struct


def _msgspec_type(annotation: Any, made: dict[type[BaseModel], Any]) -> Any:
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return structs_for(annotation, made)
    if origin is typing.Annotated:
        return _msgspec_type(typing.get_args(annotation)[0], made)
    if origin in (types.UnionType, typing.Union):
        args = tuple(_msgspec_type(a, made) for a in typing.get_args(annotation))
        return typing.Union[args]  # noqa: UP007 - built at run time
    if origin is list:
        return list[_msgspec_type(typing.get_args(annotation)[0], made)]  # type: ignore[misc]
    if origin is dict:
        key, value = typing.get_args(annotation)
        return dict[_msgspec_type(key, made), _msgspec_type(value, made)]  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation
    return annotation


async def bodies(users: int) -> dict[str, list[bytes]]:
    """Recorded answers per endpoint path, for ``users`` new viewers' Discovery pages."""
    from backends.server import create_app

    calls = [c for c in workload(users, skip=users) if c.path in MODELS]
    recorded: dict[str, list[bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        os.environ["PGW_BANDIT_JOURNAL"] = str(Path(tmp) / "bandit-journal.jsonl")
        for backend in sorted({c.backend for c in calls}):
            app = create_app(backend)
            async with app.router.lifespan_context(app):
                for call in (c for c in calls if c.backend == backend):
                    status, body = await asgi_call(app, call)
                    if status == 200:
                        recorded.setdefault(call.path, []).append(body)
    return recorded


def decoders(
    model: type[BaseModel],
) -> dict[str, tuple[Callable[[bytes], Any], Callable[[Any], Any]]]:
    """name → (decode, to comparable builtins)."""
    import msgspec

    adapter = TypeAdapter(model)
    decoder = msgspec.json.Decoder(structs_for(model))
    dumped: Callable[[Any], Any] = lambda m: m.model_dump(mode="json")  # noqa: E731
    return {
        "pydantic": (model.model_validate_json, dumped),
        "pydantic-adapter": (adapter.validate_json, dumped),
        "msgspec": (decoder.decode, msgspec.to_builtins),
    }


def measure(recorded: dict[str, list[bytes]], rounds: int) -> dict[str, dict[str, float]]:
    """Best round's CPU µs per body, per endpoint and decoder."""
    out: dict[str, dict[str, float]] = {}
    for path, blobs in recorded.items():
        model = MODELS[path]
        ways = decoders(model)
        reference = [model.model_validate_json(b).model_dump(mode="json") for b in blobs]
        for name, (decode, builtins) in ways.items():
            got = [builtins(decode(b)) for b in blobs]
            if got != reference:
                raise SystemExit(f"{name} decodes {path} differently from pydantic")
        out[path] = {"bytes": sum(map(len, blobs)) / len(blobs)}
        for name, (decode, _) in ways.items():
            best = float("inf")
            for _ in range(rounds):
                started = time.process_time()
                for blob in blobs:
                    decode(blob)
                best = min(best, time.process_time() - started)
            out[path][name] = best / len(blobs) * 1e6
    return out


def write(result: dict[str, Any], out: Path) -> None:
    figures = result["us_per_body"]
    lines = [
        "# Decoding real backend bodies: CPU µs per body (best round)",
        "",
        f"Command: `{result['command']}` — {result['started']}, load average "
        + ", ".join(f"{x:.1f}" for x in result["load_average"])
        + " (shared 2-core machine; compare within a row).",
        "",
        "| endpoint | body bytes | pydantic | pydantic TypeAdapter | msgspec "
        "| msgspec ÷ pydantic |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    total = {"pydantic": 0.0, "msgspec": 0.0}
    for path, row in figures.items():
        lines.append(
            f"| `{path}` | {row['bytes']:.0f} | {row['pydantic']:.1f} | "
            f"{row['pydantic-adapter']:.1f} | {row['msgspec']:.1f} | "
            f"{row['msgspec'] / row['pydantic']:.2f} |"
        )
        total["pydantic"] += row["pydantic"]
        total["msgspec"] += row["msgspec"]
    lines += [
        "",
        f"One Discovery page's bodies (one of each row): pydantic {total['pydantic']:.0f} µs, "
        f"msgspec {total['msgspec']:.0f} µs "
        f"(× {total['msgspec'] / total['pydantic']:.2f}).",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.decode", description=__doc__)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    recorded = asyncio.run(bodies(args.users))
    result = {
        "command": f"python -m bench.decode --users {args.users} --rounds {args.rounds}",
        "started": started,
        "load_average": os.getloadavg(),
        "us_per_body": measure(recorded, args.rounds),
    }
    write(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
