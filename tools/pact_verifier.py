"""Provider verification of the gateway's consumer-driven contracts (Pact V4).

The gateway's consumer tests (``tests/contracts/``) describe every interaction it relies on
with each backend and write them to ``pacts/gateway-<backend>.json``. This module checks a
running backend against those pacts, in two passes per interaction:

1. **pact** — the Pact verifier (pact-python's Rust core) replays the request and matches
   status, headers and body against the pact's matching rules (the *shape*);
2. **semantics** — the request is replayed once more and the answer checked for what the
   gateway depends on beyond shape (:func:`check_semantics`): a score for every candidate
   and no extra ids, no duplicate ids, propensities in (0, 1], ``missing`` plus found equals
   asked, limits respected, every 4xx carrying a message; a batch endpoint
   (``…/candidates:batch``, ``/v1/rank:batch``, ``/v1/decide:batch``) exactly one answer per
   request, in order, each held to its single endpoint's checks.

``python -m gateway contracts verify --backend ranking=URL [--backend …]`` prints one row per
interaction and exits 1 if any fails. Provider states (``given …`` in the pact) are set by
POSTing ``{"state", "params", "action"}`` to the backend's state-change URL
(``--state-url ranking=URL``), the standard Pact protocol; without one, the backend must
already hold the data each state names (the reference backends do: their data is seeded).

pact-python is a development dependency: run this from a checkout after ``uv sync``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from clients.contracts import (
    BannersBatch,
    BatchGetRequest,
    BrandsBatch,
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    CandidatesResponse,
    CategoriesResponse,
    DecideBatchRequest,
    DecideBatchResponse,
    DecideRequest,
    DecideResponse,
    ItemsBatch,
    PopularResponse,
    RankBatchRequest,
    RankBatchResponse,
    RankRequest,
    RankResponse,
    VenuesBatch,
)
from clients.contracts.ports import BACKEND_NAMES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACT_DIR = PROJECT_ROOT / "pacts"
CONSUMER = "gateway"
BACKENDS = BACKEND_NAMES

StateSetter = Callable[[str, Mapping[str, Any], str], None]
"""``(state name, params, "setup" | "teardown")`` → arrange the provider."""

__all__ = [
    "BACKENDS",
    "CONSUMER",
    "PACT_DIR",
    "Interaction",
    "InteractionResult",
    "StateSetter",
    "check_semantics",
    "contracts_app",
    "load_interactions",
    "pact_path",
    "render",
    "verify_backend",
]


# -- the pact files --------------------------------------------------------------------------


@dataclass(frozen=True)
class Interaction:
    """One HTTP interaction of a pact, as much of it as replaying needs."""

    provider: str
    description: str
    states: tuple[tuple[str, dict[str, Any]], ...]
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


def pact_path(provider: str, pact_dir: Path = PACT_DIR) -> Path:
    return pact_dir / f"{CONSUMER}-{provider}.json"


def load_interactions(provider: str, pact_dir: Path = PACT_DIR) -> list[Interaction]:
    """The synchronous HTTP interactions of ``pacts/gateway-<provider>.json``."""
    path = pact_path(provider, pact_dir)
    if not path.exists():
        raise FileNotFoundError(f"no pact for {provider!r}: {path} does not exist")
    doc = json.loads(path.read_text(encoding="utf-8"))
    spec = doc.get("metadata", {}).get("pactSpecification", {}).get("version", "")
    if not str(spec).startswith("4"):
        raise ValueError(f"{path}: Pact specification {spec!r}, expected V4")
    found: list[Interaction] = []
    for item in doc.get("interactions", []):
        if item.get("type") != "Synchronous/HTTP":
            continue
        request = item["request"]
        body = request.get("body", {}).get("content")
        found.append(
            Interaction(
                provider=provider,
                description=item["description"],
                states=tuple(
                    (s["name"], dict(s.get("params") or {})) for s in item.get("providerStates", [])
                ),
                method=request["method"].upper(),
                path=request["path"],
                query={k: list(v) for k, v in (request.get("query") or {}).items()},
                body=body,
                status=int(item["response"]["status"]),
            )
        )
    return found


# -- semantics beyond shape --------------------------------------------------------------------


def _duplicates(ids: Iterable[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def _validate(model: type[BaseModel], body: Any, problems: list[str]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        for err in exc.errors()[:3]:
            where = ".".join(str(p) for p in err["loc"]) or "body"
            problems.append(f"not a {model.__name__}: {where}: {err['msg']}")
        return None


def _short(ids: Iterable[str]) -> str:
    listed = sorted(ids)
    return ", ".join(listed[:5]) + (f" (+{len(listed) - 5})" if len(listed) > 5 else "")


def _rank(request: Any, body: Any, problems: list[str]) -> None:
    asked = RankRequest.model_validate(request)
    resp: RankResponse | None = _validate(RankResponse, body, problems)
    if resp is None:
        return
    ids = [s.id for s in resp.scores]
    if dup := _duplicates(ids):
        problems.append(f"duplicate ids in scores: {_short(dup)}")
    if unscored := set(asked.candidate_ids) - set(ids):
        problems.append(f"no score for candidates: {_short(unscored)}")
    if extra := set(ids) - set(asked.candidate_ids):
        problems.append(f"scores for ids not asked: {_short(extra)}")
    if bad := [s.id for s in resp.scores if not math.isfinite(s.score)]:
        problems.append(f"non-finite scores: {_short(bad)}")


def _candidates(request: Any, body: Any, problems: list[str]) -> None:
    asked = CandidatesRequest.model_validate(request)
    resp: CandidatesResponse | None = _validate(CandidatesResponse, body, problems)
    if resp is None:
        return
    ids = [c.id for c in resp.candidates]
    if len(ids) > asked.limit:
        problems.append(f"{len(ids)} candidates for limit {asked.limit}")
    if dup := _duplicates(ids):
        problems.append(f"duplicate candidate ids: {_short(dup)}")
    if bad := [c.id for c in resp.candidates if not math.isfinite(c.score)]:
        problems.append(f"non-finite scores: {_short(bad)}")


def _decide(request: Any, body: Any, problems: list[str]) -> None:
    asked = DecideRequest.model_validate(request)
    if isinstance(body, dict):  # report bad propensities readably before the model does
        for arm in body.get("ranking") or []:
            p = arm.get("propensity") if isinstance(arm, dict) else None
            if not isinstance(p, int | float) or not 0 < p <= 1:
                problems.append(f"propensity of {arm!r} is not in (0, 1]")
    if problems:
        return
    resp: DecideResponse | None = _validate(DecideResponse, body, problems)
    if resp is None:
        return
    arms = [a.arm for a in resp.ranking]
    if dup := _duplicates(arms):
        problems.append(f"duplicate arms in ranking: {_short(dup)}")
    if left_out := set(asked.arms) - set(arms):
        problems.append(f"arms left out of the ranking: {_short(left_out)}")
    if extra := set(arms) - set(asked.arms):
        problems.append(f"arms not offered: {_short(extra)}")
    if not resp.decision_id:
        problems.append("empty decision_id")


class _BatchRequest(Protocol):
    @property
    def requests(self) -> Sequence[BaseModel]: ...


def _batched(
    request: Any,
    body: Any,
    problems: list[str],
    batch_request: Callable[[Any], _BatchRequest],
    batch_response: type[BaseModel],
    single: Callable[[Any, Any, list[str]], None],
) -> list[Any] | None:
    """A batch answer: exactly one response per request, in order, each held to the single
    endpoint's checks (problems prefixed ``requests[i]``). The responses, or None when the
    answer is not a list of the right length."""
    asked = batch_request(request).requests
    answers = body.get("responses") if isinstance(body, dict) else None
    if not isinstance(answers, list):
        _validate(batch_response, body, problems)
        return None
    if len(answers) != len(asked):
        problems.append(f"{len(answers)} responses to {len(asked)} requests")
        return None
    for n, (one, answer) in enumerate(zip(asked, answers, strict=True)):
        found: list[str] = []
        single(one.model_dump(mode="json"), answer, found)
        problems.extend(f"requests[{n}]: {problem}" for problem in found)
    return answers


def _candidates_batch(request: Any, body: Any, problems: list[str]) -> None:
    """One answer per request, each one an answer ``/v1/candidates`` could give."""
    _batched(
        request,
        body,
        problems,
        CandidatesBatchRequest.model_validate,
        CandidatesBatchResponse,
        _candidates,
    )


def _rank_batch(request: Any, body: Any, problems: list[str]) -> None:
    """One answer per request, each one an answer ``/v1/rank`` could give."""
    _batched(request, body, problems, RankBatchRequest.model_validate, RankBatchResponse, _rank)


def _decide_batch(request: Any, body: Any, problems: list[str]) -> None:
    """One decision per request, each one ``/v1/decide`` could make, each its own decision:
    rewards name a decision by id, so two requests must not share one."""
    answers = _batched(
        request, body, problems, DecideBatchRequest.model_validate, DecideBatchResponse, _decide
    )
    if answers is None:
        return
    ids = [a.get("decision_id") for a in answers if isinstance(a, dict)]
    if dup := _duplicates(i for i in ids if isinstance(i, str) and i):
        problems.append(f"one decision_id for several requests: {_short(dup)}")


def _popular(query: Mapping[str, list[str]], body: Any, problems: list[str]) -> None:
    resp: PopularResponse | None = _validate(PopularResponse, body, problems)
    if resp is None:
        return
    limit = int(query.get("limit", ["50"])[0])
    if len(resp.ids) > limit:
        problems.append(f"{len(resp.ids)} ids for limit {limit}")
    if dup := _duplicates(resp.ids):
        problems.append(f"duplicate ids: {_short(dup)}")


_BATCHES: dict[str, type[BaseModel]] = {
    "/v1/venues:batchGet": VenuesBatch,
    "/v1/items:batchGet": ItemsBatch,
    "/v1/brands:batchGet": BrandsBatch,
    "/v1/banners:batchGet": BannersBatch,
}


def _batch(path: str, request: Any, body: Any, problems: list[str]) -> None:
    asked = BatchGetRequest.model_validate(request).ids
    resp = _validate(_BATCHES[path], body, problems)
    if resp is None:
        return
    found = [e.id for e in resp.entities]
    missing = list(resp.missing)
    if dup := _duplicates(found + missing):
        problems.append(f"ids both found and missing, or repeated: {_short(dup)}")
    if unanswered := set(asked) - set(found) - set(missing):
        problems.append(f"asked but neither found nor missing: {_short(unanswered)}")
    if extra := (set(found) | set(missing)) - set(asked):
        problems.append(f"ids not asked: {_short(extra)}")


def _listing(path: str, query: Mapping[str, list[str]], body: Any, problems: list[str]) -> None:
    if path == "/v1/categories":
        cats: CategoriesResponse | None = _validate(CategoriesResponse, body, problems)
        if cats is not None and (dup := _duplicates(c.slug for c in cats.categories)):
            problems.append(f"duplicate category slugs: {_short(dup)}")
        return
    banners: BannersBatch | None = _validate(BannersBatch, body, problems)
    if banners is None:
        return
    if dup := _duplicates(b.id for b in banners.entities):
        problems.append(f"duplicate banner ids: {_short(dup)}")
    city = query.get("city", [None])[0]
    if other := {b.id for b in banners.entities if city and b.city != city}:
        problems.append(f"banners of another city: {_short(other)}")


def check_semantics(interaction: Interaction, status: int, body: Any) -> list[str]:
    """What is wrong with ``(status, body)`` as the answer to ``interaction``, beyond shape.

    An empty list means the answer is one the gateway can rely on.
    """
    problems: list[str] = []
    if status != interaction.status:
        return [f"status {status}, expected {interaction.status}"]
    if 400 <= status < 500:
        text = json.dumps(body) if not isinstance(body, str) else body
        if not text.strip() or text in ("null", '""', "{}"):
            problems.append(f"HTTP {status} without a message saying what was wrong")
        return problems
    if status >= 300:
        return problems
    path, request = interaction.path, interaction.body
    if path == "/v1/rank":
        _rank(request, body, problems)
    elif path == "/v1/candidates":
        _candidates(request, body, problems)
    elif path == "/v1/candidates:batch":
        _candidates_batch(request, body, problems)
    elif path == "/v1/decide":
        _decide(request, body, problems)
    elif path == "/v1/rank:batch":
        _rank_batch(request, body, problems)
    elif path == "/v1/decide:batch":
        _decide_batch(request, body, problems)
    elif path == "/v1/popular":
        _popular(interaction.query, body, problems)
    elif path in _BATCHES:
        _batch(path, request, body, problems)
    elif path in ("/v1/categories", "/v1/banners"):
        _listing(path, interaction.query, body, problems)
    return problems


# -- running a verification ---------------------------------------------------------------------


@dataclass
class InteractionResult:
    """The outcome of one interaction: the Pact match and the semantic checks."""

    backend: str
    description: str
    pact_ok: bool
    pact_detail: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.pact_ok and not self.problems


def url_state_setter(url: str, *, timeout_s: float = 10.0) -> StateSetter:
    """A state setter that POSTs the Pact state-change body to ``url``."""

    def setter(state: str, params: Mapping[str, Any], action: str) -> None:
        response = httpx.post(
            url,
            json={"state": state, "params": dict(params), "action": action},
            timeout=timeout_s,
        )
        response.raise_for_status()

    return setter


def _mismatch_text(result: Mapping[str, Any]) -> str:
    """A one-line summary of the Pact verifier's mismatches for one interaction."""
    if result.get("result") == "OK":
        return ""
    failure = result.get("mismatch")
    if not isinstance(failure, Mapping):
        return str(result.get("result", "failed"))
    parts: list[str] = []
    if failure.get("message"):
        parts.append(str(failure["message"]))
    for mismatch in failure.get("mismatches") or []:
        if isinstance(mismatch, Mapping):
            where = mismatch.get("path") or ""
            text = str(mismatch.get("mismatch", mismatch.get("type", "")))
            parts.append(f"{where} {text}".strip())
    return "; ".join(parts)[:400] or "failed"


@contextlib.contextmanager
def _quiet_native_output() -> Iterator[None]:
    """Send what native code writes to file descriptors 1 and 2 to a scratch file meanwhile.

    The Pact core prints its own report and notices there; ours is the table (its report
    stays available as the verifier's ``output``).
    """
    try:
        fds = [sys.stdout.fileno(), sys.stderr.fileno()]
    except (AttributeError, OSError, ValueError):  # replaced streams (e.g. a test runner)
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    with tempfile.TemporaryFile() as scratch:
        for fd in fds:
            os.dup2(scratch.fileno(), fd)
        try:
            yield
        finally:
            for fd, copy in zip(fds, saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


def _run_pact_verifier(
    backend: str, url: str, pact_file: Path, state: StateSetter | None, state_url: str | None
) -> tuple[dict[str, tuple[bool, str]], str]:
    """Per-interaction results of pact-python's verifier, and its whole output."""
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")  # no usage beacon from the verifier
    try:
        from pact import Verifier
    except ImportError as exc:  # pragma: no cover - dev dependency
        raise RuntimeError(
            "pact-python is not installed: run from a checkout of the gateway after `uv sync`"
        ) from exc

    parsed = httpx.URL(url)
    verifier = (
        Verifier(backend, host=parsed.host)
        .add_transport(url=url)
        .add_source(pact_file)
        .set_coloured_output(enabled=False)
        .set_request_timeout(10_000)
    )
    if state_url:
        verifier.state_handler(state_url, body=True, teardown=True)
    elif state is not None:
        setter = state

        def handler(
            state: str, action: str, parameters: dict[str, Any] | None = None, **_: Any
        ) -> None:
            setter(state, parameters or {}, action)

        verifier.state_handler(handler, teardown=True)
    # Failures are read from ``results``, not raised.
    with _quiet_native_output(), contextlib.suppress(Exception):
        verifier.verify()
    results = verifier.results
    by_description: dict[str, tuple[bool, str]] = {}
    for item in results.get("interactionResults", []):
        ok = item.get("result") == "OK"
        by_description[str(item.get("description"))] = (ok, _mismatch_text(item))
    return by_description, verifier.output(strip_ansi=True)


def _replay(client: httpx.Client, interaction: Interaction) -> tuple[int, Any]:
    response = client.request(
        interaction.method,
        interaction.path,
        params=[(k, v) for k, values in interaction.query.items() for v in values],
        json=interaction.body if interaction.body is not None else None,
    )
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


def verify_backend(
    backend: str,
    url: str,
    *,
    pact_dir: Path = PACT_DIR,
    state: StateSetter | None = None,
    state_url: str | None = None,
    timeout_s: float = 10.0,
) -> list[InteractionResult]:
    """Verify the backend at ``url`` against ``pacts/gateway-<backend>.json``.

    ``state`` (a function) or ``state_url`` (the Pact state-change endpoint) arranges each
    interaction's provider states; with neither, states are assumed to hold already.
    """
    url = url.rstrip("/")
    interactions = load_interactions(backend, pact_dir)
    pact_results, output = _run_pact_verifier(
        backend, url, pact_path(backend, pact_dir), state, state_url
    )
    setter = url_state_setter(state_url, timeout_s=timeout_s) if state_url else state
    results: list[InteractionResult] = []
    with httpx.Client(base_url=url, timeout=timeout_s) as client:
        for interaction in interactions:
            pact_ok, detail = pact_results.get(
                interaction.description,
                (False, "not reported by the Pact verifier: " + output.strip()[-300:]),
            )
            result = InteractionResult(backend, interaction.description, pact_ok, detail)
            try:
                for name, params in interaction.states:
                    if setter:
                        setter(name, params, "setup")
                status, body = _replay(client, interaction)
                result.problems = check_semantics(interaction, status, body)
            except httpx.HTTPError as exc:
                result.problems = [f"request failed: {type(exc).__name__}: {exc}"]
            finally:
                for name, params in interaction.states:
                    if setter:
                        with contextlib.suppress(httpx.HTTPError):
                            setter(name, params, "teardown")
            results.append(result)
    return results


def render(results: Sequence[InteractionResult], console: Console) -> None:
    """The pass/fail table, one row per interaction."""
    table = Table(title="Gateway contracts: provider verification", show_lines=False)
    table.add_column("backend", style="bold")
    table.add_column("interaction")
    table.add_column("pact")
    table.add_column("semantics")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for r in results:
        detail = "; ".join([*([r.pact_detail] if r.pact_detail else []), *r.problems])
        table.add_row(
            r.backend,
            r.description,
            "[green]ok[/green]" if r.pact_ok else "[red]mismatch[/red]",
            "[green]ok[/green]" if not r.problems else f"[red]{len(r.problems)} problem(s)[/red]",
            "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]",
            detail,
        )
    console.print(table)
    failed = sum(not r.passed for r in results)
    summary = f"{len(results) - failed} passed, {failed} failed"
    console.print(f"[red]{summary}[/red]" if failed else f"[green]{summary}[/green]")


# -- the CLI: python -m gateway contracts verify ------------------------------------------------

contracts_app = typer.Typer(
    help="Verify a live backend against the gateway's consumer contracts (Pact V4, pacts/).",
    no_args_is_help=True,
    add_completion=False,
)


@contracts_app.callback()
def contracts() -> None:
    """A group, not its one command: `python -m gateway contracts verify`."""


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not url or name not in BACKENDS:
            raise typer.BadParameter(
                f"{value!r}: expected NAME=URL with NAME one of {', '.join(BACKENDS)}",
                param_hint=option,
            )
        pairs[name] = url
    return pairs


@contracts_app.command("verify")
def verify_command(
    backend: Annotated[
        list[str],
        typer.Option(help="NAME=URL of a backend to verify, e.g. ranking=http://10.0.0.5:8080."),
    ],
    state_url: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=URL of that backend's Pact state-change endpoint (POST {state, "
            "params, action}); without it the states must already hold."
        ),
    ] = None,
    pacts: Annotated[Path, typer.Option(help="Directory of the pact files.")] = PACT_DIR,
    width: Annotated[int, typer.Option(help="Table width.")] = 160,
) -> None:
    """Verify running backends against the gateway's pacts; exit 1 on any failure."""
    urls = _pairs(backend, "--backend")
    state_urls = _pairs(state_url or [], "--state-url")
    console = Console(width=width)
    results: list[InteractionResult] = []
    for name, url in urls.items():
        if name not in state_urls:
            console.print(
                f"[yellow]{name}:[/yellow] no --state-url, so provider states are not set: "
                "the backend must already hold the data each state names"
            )
        try:
            results += verify_backend(name, url, pact_dir=pacts, state_url=state_urls.get(name))
        except (FileNotFoundError, ValueError) as exc:
            console.print(f"[red]{name}:[/red] {exc}")
            raise typer.Exit(code=2) from None
    render(results, console)
    if not results or any(not r.passed for r in results):
        raise typer.Exit(code=1)
