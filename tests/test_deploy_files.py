"""Static checks of the container files (no Docker engine needed).

- ``docker-compose.yml`` validates against the Compose specification schema vendored by
  check-jsonschema, and its services agree with the code: backend commands and ports,
  gateway ``PGW_*`` settings, health checks, start order, Prometheus target.
- ``Dockerfile``: multi-stage, ``uv sync --frozen``, non-root final stage, health check,
  only the allow-listed GraphiQL files copied in.
- ``.dockerignore`` keeps local state out without hiding what the Dockerfile copies.

Each checker returns a list of problems; the negative tests feed broken inputs to prove the
checks can fail.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import shlex
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from clients.contracts.ports import REFERENCE_PORTS
from gateway.graphiql import ASSETS
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS = ROOT / "deploy" / "prometheus.yml"
GATEWAY_PORT = 8000
ROOT_USERS = {"0", "root", "0:0", "root:root"}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}")


# ---------------------------------------------------------------- compose


@cache
def compose_validator() -> Draft202012Validator:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(doc: object) -> list[str]:
    """Compose-spec violations, one line each (``path: message``)."""
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in sorted(compose_validator().iter_errors(doc), key=str)
    ]


def load_compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with no variables set (what a fresh checkout gets)."""
    return INTERPOLATION.sub(lambda m: m.group("default") or "", value)


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def _healthcheck_port(service: dict[str, Any]) -> int | None:
    test = (service.get("healthcheck") or {}).get("test")
    text = " ".join(test) if isinstance(test, list) else str(test or "")
    match = re.search(r"127\.0\.0\.1:(\d+)/healthz", text)
    return int(match.group(1)) if match else None


def compose_problems(doc: dict[str, Any]) -> list[str]:
    """Where the compose file disagrees with the code (empty when all is well)."""
    problems: list[str] = []
    services: dict[str, Any] = doc.get("services") or {}
    expected = {"gateway", "redis", "events-redis", "prometheus", "grafana", *REFERENCE_PORTS}
    if set(services) != expected:
        problems.append(f"services {sorted(services)} != {sorted(expected)}")

    for name, port in REFERENCE_PORTS.items():
        svc = services.get(name) or {}
        want = ["python", "-m", "backends", "serve", name, "--host", "0.0.0.0", "--port"]
        want.append(str(port))
        if svc.get("command") != want:
            problems.append(f"{name}: command {svc.get('command')} != {want}")
        if _healthcheck_port(svc) != port:
            problems.append(f"{name}: healthcheck does not probe :{port}/healthz")
        if "build" not in svc and "image" not in svc:
            problems.append(f"{name}: no image")

    gateway = services.get("gateway") or {}
    command = gateway.get("command")
    if command is not None and command != [
        "python",
        "-m",
        "gateway",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(GATEWAY_PORT),
        "--workers",
        "2",
    ]:
        problems.append(f"gateway: command {command}")
    if _healthcheck_port(gateway) != GATEWAY_PORT:
        problems.append("gateway: healthcheck does not probe /healthz on its port")
    env = _env(gateway)
    for key in env:
        if not key.startswith("PGW_"):
            continue
        model: Any = Settings
        for part in key.removeprefix("PGW_").lower().split("__"):
            field = model.model_fields.get(part) if model is not None else None
            if field is None:
                problems.append(f"gateway: {key} is not a gateway setting")
                break
            model = field.annotation if hasattr(field.annotation, "model_fields") else None
    wanted_env = {
        "PGW_ENVIRONMENT": "demo",
        "PGW_DEBUG": "true",
        "PGW_REDIS_URL": "redis://redis:6379/0",
        "PGW_EVENTS_REDIS_URL": "redis://events-redis:6379/0",
        **{f"PGW_{n.upper()}__BASE_URL": f"http://{n}:{p}" for n, p in REFERENCE_PORTS.items()},
    }
    for key, value in wanted_env.items():
        if env.get(key) != value:
            problems.append(f"gateway: {key}={env.get(key)!r}, want {value!r}")
    if not env.get("PGW_JWT_SECRET"):
        problems.append("gateway: PGW_JWT_SECRET has no demo default")
    depends = gateway.get("depends_on") or {}
    for dep in ("redis", "events-redis", *REFERENCE_PORTS):
        condition = depends.get(dep, {}).get("condition") if isinstance(depends, dict) else None
        if condition != "service_healthy":
            problems.append(f"gateway: depends_on {dep} is not service_healthy")

    prometheus = services.get("prometheus") or {}
    mounts = [str(v) for v in prometheus.get("volumes") or []]
    if not any(m.startswith("./deploy/prometheus.yml:") for m in mounts):
        problems.append("prometheus: deploy/prometheus.yml not mounted")
    redis = services.get("redis") or {}
    if not str(redis.get("image", "")).startswith("redis:7"):
        problems.append("redis: not redis:7")
    # the events Redis keeps what it is given (decision 0017): append-only, never evicting,
    # on a volume
    events = services.get("events-redis") or {}
    flags = " ".join(str(a) for a in events.get("command") or [])
    for flag in ("--appendonly yes", "--maxmemory-policy noeviction"):
        if flag not in flags:
            problems.append(f"events-redis: no {flag}")
    if not any(str(v).endswith(":/data") for v in events.get("volumes") or []):
        problems.append("events-redis: /data not on a volume")
    return problems


def test_compose_validates_against_the_compose_spec() -> None:
    assert schema_errors(load_compose()) == []


def test_compose_agrees_with_the_code() -> None:
    assert compose_problems(load_compose()) == []


@pytest.mark.parametrize("name", sorted(REFERENCE_PORTS))
def test_backend_commands_parse_with_the_backends_cli(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each backend service's command, run through ``python -m backends``'s real parser."""
    import backends.__main__ as backends_cli
    import backends.server

    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(backends.server, "serve", lambda *args: calls.append(args))
    command = load_compose()["services"][name]["command"]
    assert command[:3] == ["python", "-m", "backends"]
    assert backends_cli.main(command[3:]) == 0
    assert calls == [(name, "0.0.0.0", REFERENCE_PORTS[name])]


def test_compose_gateway_environment_builds_valid_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in _env(load_compose()["services"]["gateway"]).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.environment == "demo"
    assert settings.debug is True
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.jwt_secret is not None
    assert len(settings.jwt_secret.get_secret_value()) >= 32  # HS256 wants 256-bit keys
    for name, port in REFERENCE_PORTS.items():
        assert str(getattr(settings, name).base_url).rstrip("/") == f"http://{name}:{port}"


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["services"]["gateway"].update(comand=["x"]), "services/gateway"),
        (lambda d: d["services"]["redis"].update(ports="6379"), "services/redis/ports"),
        (
            lambda d: d["services"]["gateway"]["depends_on"]["redis"].update(
                condition="service_heathy"
            ),
            "services/gateway/depends_on",
        ),
        (
            lambda d: d["services"]["catalog"]["healthcheck"].update(interval=10),
            "services/catalog/healthcheck/interval",
        ),
        (lambda d: d.update(servises=d.pop("services")), "<root>"),
    ],
    ids=["unknown-key", "ports-not-a-list", "bad-condition", "interval-not-duration", "typo-top"],
)
def test_broken_compose_fails_the_schema(mutate: Any, where: str) -> None:
    doc = copy.deepcopy(load_compose())
    mutate(doc)
    errors = schema_errors(doc)
    assert errors, "the schema accepted a broken compose file"
    assert any(e.startswith(where) for e in errors), errors


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["services"]["ranking"]["command"].__setitem__(-1, "8104"),
        lambda d: d["services"]["bandit"]["command"].__setitem__(4, "ranking"),
        lambda d: d["services"]["gateway"]["environment"].update(
            PGW_RANKING__BASE_URL="http://ranking:9999"
        ),
        lambda d: d["services"]["gateway"]["environment"].update(PGW_CATALOG__BASEURL="x"),
        lambda d: d["services"]["gateway"]["depends_on"].pop("popularity"),
        lambda d: d["services"]["popularity"]["healthcheck"].update(test=["CMD", "true"]),
        lambda d: d["services"].pop("prometheus"),
    ],
    ids=["port", "name", "base-url", "unknown-setting", "depends", "healthcheck", "missing"],
)
def test_compose_checks_catch_drift(mutate: Any) -> None:
    doc = copy.deepcopy(load_compose())
    mutate(doc)
    assert compose_problems(doc), "a drifted compose file passed the checks"


def test_compose_file_passes_the_check_jsonschema_cli() -> None:
    """The same check a CI job would run: ``check-jsonschema --builtin-schema ...``."""
    from check_jsonschema import main as check_jsonschema_main

    with pytest.raises(SystemExit) as exit_info:
        check_jsonschema_main(["--builtin-schema", "vendor.compose-spec", "--quiet", str(COMPOSE)])
    assert exit_info.value.code == 0


def test_prometheus_scrapes_the_gateway_metrics() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    gateway = jobs["gateway"]
    assert gateway.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for sc in gateway["static_configs"] for t in sc["targets"]]
    assert targets == [f"gateway:{GATEWAY_PORT}"]


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions(text):
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _resolve_args(value: str, text: str) -> str:
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, flags=re.M))
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def dockerfile_problems(text: str) -> list[str]:
    """What the Dockerfile gets wrong (empty when all is well)."""
    problems: list[str] = []
    stages = dockerfile_stages(text)
    if len(stages) < 2:
        problems.append(f"not multi-stage ({len(stages)} stage)")
        if not stages:
            return problems
    every = [ins for stage in stages for ins in stage]
    runs = " ".join(args for ins, args in every if ins == "RUN")
    if "uv sync --frozen" not in runs:
        problems.append("no `uv sync --frozen`")
    if "--no-dev" not in runs:
        problems.append("dev dependencies installed (no --no-dev)")
    if "uv==0.13.9" not in _resolve_args(runs, text):
        problems.append("uv not pinned to 0.13.9")
    if "npm ci" not in runs:
        problems.append("no `npm ci` for the GraphiQL assets")

    final = stages[-1]
    base = _resolve_args(final[0][1].split()[0], text)
    if base != "python:3.11-slim":
        problems.append(f"final stage is {base}, not python:3.11-slim")
    users = [args for ins, args in final if ins == "USER"]
    if not users or users[-1].strip() in ROOT_USERS:
        problems.append("final stage runs as root")
    health = [args for ins, args in final if ins == "HEALTHCHECK"]
    if not health or "/healthz" not in health[-1] or health[-1].upper().startswith("NONE"):
        problems.append("no HEALTHCHECK on /healthz in the final stage")
    if not any(ins == "EXPOSE" and str(GATEWAY_PORT) in args.split() for ins, args in final):
        problems.append(f"does not EXPOSE {GATEWAY_PORT}")
    cmds = [args for ins, args in final if ins == "CMD"]
    want_cmd = ["python", "-m", "gateway", "serve", "--host", "0.0.0.0", "--port", "8000"]
    want_cmd += ["--workers", "2"]
    if not cmds or json.loads(cmds[-1]) != want_cmd:
        problems.append(f"CMD is not {want_cmd}")
    copies = " ".join(args for ins, args in final if ins == "COPY")
    if "/app/.venv" not in copies:
        problems.append("final stage lacks the virtualenv")
    # the project is installed as its wheel (GraphiQL's files inside, pyproject's
    # artifacts): the virtualenv alone is the application, no source tree beside it
    if "--no-editable" not in runs:
        problems.append("project installed editable (no --no-editable): the venv needs the sources")
    if not any(
        ins == "COPY" and "--from=assets" in args for stage in stages[:-1] for ins, args in stage
    ):
        problems.append("GraphiQL assets not in the build before the wheel is made")
    if re.search(r"node_modules/?\s", copies + " "):
        problems.append("final stage copies the whole node_modules")
    if any(ins == "ADD" and "http" in args for ins, args in every):
        problems.append("ADD from a URL (unpinned download)")
    return problems


def test_dockerfile_is_multistage_nonroot_and_healthchecked() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text(encoding="utf-8")) == []


BAD_DOCKERFILES = {
    "single-stage-root": """FROM python:3.11-slim
RUN pip install uv==0.13.9 && uv sync --frozen --no-dev
COPY . /app
CMD ["python","-m","gateway","serve","--host","0.0.0.0","--port","8000","--workers","2"]
""",
    "root-user-no-healthcheck": None,  # the real file with USER/HEALTHCHECK removed
    "unfrozen-sync": None,  # the real file with --frozen dropped
}


@pytest.mark.parametrize("case", sorted(BAD_DOCKERFILES))
def test_dockerfile_checks_can_fail(case: str) -> None:
    real = DOCKERFILE.read_text(encoding="utf-8")
    if case == "root-user-no-healthcheck":
        text = re.sub(r"^USER .*$", "USER root", real, flags=re.M)
        text = re.sub(r"^HEALTHCHECK .*?\n(  .*\n)*", "", text, flags=re.M)
        expected = {"final stage runs as root", "no HEALTHCHECK on /healthz in the final stage"}
    elif case == "unfrozen-sync":
        text = real.replace("uv sync --frozen", "uv sync")
        expected = {"no `uv sync --frozen`"}
    else:
        text = BAD_DOCKERFILES[case] or ""
        expected = {"not multi-stage (1 stage)", "final stage runs as root"}
    problems = set(dockerfile_problems(text))
    assert expected <= problems, problems


def test_dockerfile_cmd_matches_the_cli() -> None:
    """The image's command parses as a real ``python -m gateway serve`` invocation."""
    from typer.testing import CliRunner

    from gateway.cli import app

    *_, cmd = [a for i, a in dockerfile_instructions(DOCKERFILE.read_text()) if i == "CMD"]
    argv = json.loads(cmd)[3:]
    result = CliRunner().invoke(app, [*argv, "--help"])
    assert result.exit_code == 0, result.output
    assert "--workers" in result.output


# ---------------------------------------------------------------- .dockerignore


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Roughly Docker's rule: the last matching pattern wins; a directory takes its files."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        alternatives = {body}
        if body.startswith("**/"):
            alternatives |= {body[3:], "*/" + body[3:]}
        if any(fnmatch.fnmatchcase(p, a) for p in prefixes for a in alternatives):
            verdict = not negate
    return verdict


def test_dockerignore_keeps_local_state_out_but_not_the_sources() -> None:
    patterns = dockerignore_patterns()
    for local in (".venv", ".git", ".cache", "gateway/graphiql/node_modules", "tests"):
        assert ignored(local, patterns), f"{local} would be sent to the build"
    copied = []
    for ins, args in dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if ins == "COPY" and "--from=" not in args:
            copied += shlex.split(args)[:-1]
    assert copied, "no COPY from the build context found"
    for path in copied:
        assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
        assert not ignored(path.rstrip("/"), patterns), f".dockerignore hides {path}"


def test_the_wheel_carries_graphiqls_assets() -> None:
    """esbuild builds them at set-up (gitignored, so hatch would leave them out): pyproject
    lists each file GraphiQL serves as a wheel artifact, so the installed wheel, and the
    image, has it."""
    import tomllib

    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    artifacts = set(wheel["targets"]["wheel"]["artifacts"])
    for asset in ASSETS.values():
        assert f"gateway/graphiql/dist/{asset}" in artifacts
