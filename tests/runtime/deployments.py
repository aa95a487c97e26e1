"""What the image, ``docker-compose.yml`` and the production overlay tell the gateway process.

Read from those files (never restated here), so a change there is what the runtime test runs:
the image's ``ENV`` (the Dockerfile's runtime stage), the service's or container's
environment and command, and which paths are writable (``/tmp``, the directories the image
gives to uid 10001, declared volumes) or carry mounted files (ConfigMaps).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.test_k8s_manifests import container, one, rendered

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
APP_UID = 10001


@dataclass
class Deployment:
    """One way the gateway container is run, as its files describe it."""

    name: str
    command: list[str]
    env: dict[str, str]
    #: container paths the process may write to
    writable: list[str]
    #: container path -> file contents mounted read-only there
    files: dict[str, str] = field(default_factory=dict)
    #: env names whose values are secrets supplied out of band (the test makes them up)
    secrets: list[str] = field(default_factory=list)


def _runtime_stage() -> list[str]:
    """The Dockerfile's runtime stage, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    start = max(i for i, line in enumerate(lines) if re.match(r"FROM .* AS runtime$", line))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("FROM ")), len(lines)
    )
    return [line for line in lines[start:end] if line and not line.startswith("#")]


def image_env() -> dict[str, str]:
    """``ENV`` of the runtime stage (``k=v`` pairs) over the base image's ``PATH``."""
    env: dict[str, str] = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    for line in _runtime_stage():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                key, _, value = pair.partition("=")
                env[key] = re.sub(
                    r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m[1] or m[2], ""), value
                )
    return env


def image_writable() -> list[str]:
    """Directories the runtime stage hands to the app's uid (``chown 10001:10001 …``)."""
    dirs: list[str] = []
    for line in _runtime_stage():
        for match in re.finditer(rf"chown (?:-R )?{APP_UID}:{APP_UID} ((?:/[^\s&;]+ ?)+)", line):
            dirs += match[1].split()
    return dirs


def _interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with nothing set in the environment: the default."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m[1] or "", value)


def compose() -> Deployment:
    spec = yaml.safe_load(COMPOSE.read_text())["services"]["gateway"]
    environment = spec.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env = {**image_env(), **{k: _interpolate(str(v)) for k, v in environment.items()}}
    volumes = [str(v).split(":")[1] for v in spec.get("volumes") or []]
    return Deployment(
        name="compose",
        command=list(spec["command"]),
        env=env,
        writable=["/tmp", *image_writable(), *volumes],
    )


def production() -> Deployment:
    objs = rendered("production")
    dep = one(objs, "Deployment", "gateway")
    assert dep is not None
    c = container(dep, "gateway")
    assert c is not None
    env = image_env()
    secrets: list[str] = []
    for entry in c.get("env") or []:
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
        else:
            secrets.append(entry["name"])
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes") or []}
    writable: list[str] = []
    files: dict[str, str] = {}
    for mount in c.get("volumeMounts") or []:
        volume: dict[str, Any] = volumes[mount["name"]]
        if "emptyDir" in volume or "persistentVolumeClaim" in volume:
            writable.append(mount["mountPath"])
        elif "configMap" in volume:
            config_map = one(objs, "ConfigMap", volume["configMap"]["name"])
            assert config_map is not None
            for key, text in (config_map.get("data") or {}).items():
                files[f"{mount['mountPath']}/{key}"] = text
    # readOnlyRootFilesystem: nothing else is writable, not even the image's own directories
    return Deployment(
        name="production",
        command=list(c.get("command") or []) + list(c.get("args") or []),
        env=env,
        writable=writable,
        files=files,
        secrets=secrets,
    )
