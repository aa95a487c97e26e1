"""What an operator installs to watch the gateway (``deploy/k8s/monitoring``): a
ServiceMonitor that scrapes the metrics port through its own Service, and alert rules that
Prometheus's own checker accepts and that name only metrics the gateway exports.

``promtool`` comes from Debian's ``prometheus`` package (``make promtool``, a prerequisite
of ``make test``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

import gateway.metrics  # noqa: F401  (registers the pgw_* families)
from tests.test_k8s_manifests import K8S, container, find, one, render, rendered, resolve_port

MONITORING = K8S / "monitoring"


def _objs() -> list[dict[str, Any]]:
    return render(MONITORING)


def _exported_names() -> set[str]:
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names |= {sample.name for sample in family.samples}
        names |= {f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_sum", "_count")}
    return names


def test_the_service_monitor_scrapes_the_metrics_port_apart_from_the_api() -> None:
    (monitor,) = find(_objs(), "ServiceMonitor")
    base = rendered("production")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    services = [
        s for s in find(base, "Service") if wanted.items() <= s["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in services] == ["gateway-metrics"]
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = [p for p in services[0]["spec"]["ports"] if p["name"] == endpoint["port"]]
    dep = one(base, "Deployment", "gateway")
    assert dep is not None
    c = container(dep, "gateway")
    assert c is not None
    metrics_port = resolve_port(port["targetPort"], c)
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert metrics_port == int(env["PGW_METRICS_PORT"])
    public = one(base, "Service", "gateway")
    assert public is not None
    assert all(resolve_port(p["targetPort"], c) != metrics_port for p in public["spec"]["ports"])
    # only the monitoring namespace reaches the metrics port
    policy = one(base, "NetworkPolicy", "gateway")
    assert policy is not None
    for rule in policy["spec"]["ingress"]:
        if any(p["port"] == "metrics" for p in rule["ports"]):
            assert rule["from"] == [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ]


def _rules() -> list[dict[str, Any]]:
    (rule,) = find(_objs(), "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_every_alert_the_issue_asks_for_is_there() -> None:
    exprs = {r["alert"]: r["expr"] for r in _rules()}
    wanted = {
        "degraded": "pgw_graphql_requests_total",
        "breaker": "pgw_circuit_state",
        "p99": "pgw_graphql_request_duration_seconds_bucket",
        "outbox": "pgw_events_outbox_pending",
        "gc": "pgw_gc_pause_seconds_bucket",
    }
    for what, metric in wanted.items():
        assert any(metric in expr for expr in exprs.values()), what


def test_alert_expressions_parse_and_name_only_exported_metrics() -> None:
    exported = _exported_names()
    for rule in _rules():
        promql_parser.parse(rule["expr"])
        for name in re.findall(r"\b(pgw_[a-z0-9_]+)", rule["expr"]):
            assert name in exported, (rule["alert"], name)


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool missing: `make promtool` installs Debian's prometheus package")
    (rule,) = find(_objs(), "PrometheusRule")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in check.stdout


def test_promtool_catches_a_broken_rule(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool missing: `make promtool` installs Debian's prometheus package")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "sum(("}]}]})
    )
    check = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, check=False
    )
    assert check.returncode != 0


def test_compose_provisions_grafana_with_the_dashboard_on_prometheus() -> None:
    root = K8S.parents[1]
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    grafana = services["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"])
    provisioning = root / mounts["./deploy/grafana/provisioning"].replace(
        "/etc/grafana/provisioning", "deploy/grafana/provisioning"
    )
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in services
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "gateway.yaml").read_text())[
        "providers"
    ]
    dashboard_in_container = mounts["./deploy/grafana/gateway-dashboard.json"]
    assert Path(dashboard_in_container).parent == Path(provider["options"]["path"])
    assert (root / "deploy/grafana/gateway-dashboard.json").is_file()
