"""Experiments route the ranking model and the section plan, and exposures are logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from structlog.testing import capture_logs

from clients.contracts.common import Surface
from resolvers.experiments import assignments
from resolvers.plans import Plans, load_plans
from tests.gateway.conftest import PLANS, GatewayFactory


def _plans_with_experiment(tmp_path: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(PLANS.read_text(encoding="utf-8"))
    data["experiments"] = [
        {
            "name": "layout",
            "surface": "discovery",
            "salt": "test-layout",
            "variants": [
                {"name": "control", "share": 0.5, "ranking_variant": "control"},
                {
                    "name": "treatment",
                    "share": 0.5,
                    "ranking_variant": "treatment",
                    "hidden_sections": ["brands"],
                },
            ],
        }
    ]
    path = tmp_path / "plans-experiment.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _users_by_variant(plans: Plans) -> dict[str, str]:
    from datetime import UTC, datetime

    found: dict[str, str] = {}
    for n in range(1, 50):
        user = f"u{n:04d}"
        variant = assignments(plans.experiments, Surface.DISCOVERY, user, datetime.now(tz=UTC))[
            "layout"
        ].name
        found.setdefault(variant, user)
    return found


async def test_variant_routes_ranking_and_plan_and_is_logged(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    path = _plans_with_experiment(tmp_path)
    users = _users_by_variant(load_plans(path))
    async with make_gateway(plans_path=path) as gw:
        with capture_logs() as logs:
            control = await gw.discovery(user=users["control"])
            treatment = await gw.discovery(user=users["treatment"])
        assert "brands" in {s["id"] for s in control["sections"]}
        assert "brands" not in {s["id"] for s in treatment["sections"]}
        variants = {r["user_id"]: r["variant"] for r in gw.fakes.rank_requests()}
        assert variants == {users["control"]: "control", users["treatment"]: "treatment"}
        exposures = [e["experiments"] for e in logs if e["event"] == "graphql"]
        assert exposures == [{"layout": "control"}, {"layout": "treatment"}]


async def test_anonymous_viewers_are_assigned_by_device_id(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    path = _plans_with_experiment(tmp_path)
    async with make_gateway(plans_path=path) as gw:
        with capture_logs() as logs:
            await gw.discovery(headers={"X-Device-Id": "device-1"})
            await gw.discovery()
        exposures = [e["experiments"] for e in logs if e["event"] == "graphql"]
        assert list(exposures[0]) == ["layout"]
        assert exposures[1] == {}
