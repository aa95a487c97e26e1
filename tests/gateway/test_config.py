"""Configuration: validated at start-up, errors name the setting, secrets never printed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.settings import Settings
from resolvers.plans import PlanError, load_plans

runner = CliRunner()


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGW_ENVIRONMENT", "development")
    monkeypatch.setenv("PGW_JWT_SECRET", "very-secret-signing-key")
    monkeypatch.setenv("PGW_REDIS_URL", "redis://:hunter2@redis.internal:6379/0")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "very-secret" not in result.output
    assert "hunter2" not in result.output
    shown = json.loads(result.output)
    assert shown["jwt_secret"] == "**********"
    assert shown["redis_url"] == "redis://:***@redis.internal:6379/0"
    assert shown["plans"]["surfaces"]["discovery"]["budget_ms"] == 300


def test_one_nested_variable_changes_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGW_RANKING__TIMEOUT_S", "0.09")
    monkeypatch.setenv("PGW_ENVIRONMENT", "development")
    settings = Settings()
    assert settings.ranking.timeout_s == 0.09
    assert settings.ranking.base_url == "http://127.0.0.1:8103"
    assert settings.ranking.cache_ttl_s == 60


def test_invalid_variable_is_named_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGW_RANKING__TIMEOUT_S", "fast")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "PGW_RANKING__TIMEOUT_S" in result.output
    assert "Traceback" not in result.output


def test_production_refuses_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGW_ENVIRONMENT", "production")
    monkeypatch.setenv("PGW_DEBUG", "true")
    with pytest.raises(ValueError, match="PGW_DEBUG"):
        Settings()


def test_invalid_plans_name_the_offending_path(tmp_path: Path) -> None:
    shipped = Path("gateway/data/plans.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "plans.yaml"
    broken.write_text(shipped.replace("strategy: for_you", "strategy: for_me"), encoding="utf-8")
    with pytest.raises(PlanError, match=r"surfaces\.discovery\.sections\.2\.content\.strategy"):
        load_plans(broken)
    broken.write_text(
        shipped.replace("fallback: [popular, stale, default]", "fallback: [popular, stale]", 1),
        encoding="utf-8",
    )
    with pytest.raises(PlanError, match="must end with 'default'"):
        load_plans(broken)


def test_production_is_the_default_and_refuses_introspection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in [k for k in os.environ if k.startswith("PGW_")]:
        monkeypatch.delenv(key)
    with pytest.raises(ValueError, match="PGW_JWT_SECRET"):
        Settings()  # production unless told otherwise: a secret is required
    monkeypatch.setenv("PGW_JWT_SECRET", "s" * 40)
    with pytest.raises(ValueError, match="PGW_TRACKING_KEY"):
        Settings()  # a tracking key of its own
    monkeypatch.setenv("PGW_TRACKING_KEY", "s" * 40)
    with pytest.raises(ValueError, match="must not be the JWT secret"):
        Settings()
    monkeypatch.setenv("PGW_TRACKING_KEY", "t" * 40)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.graphiql_enabled is False
    assert settings.introspection is False
    monkeypatch.setenv("PGW_INTROSPECTION", "true")
    with pytest.raises(ValueError, match="PGW_INTROSPECTION"):
        Settings()


def test_graphiql_defaults_to_on_outside_production() -> None:
    assert Settings(environment="development").graphiql_enabled is True
    assert Settings(environment="development", graphiql=False).graphiql_enabled is False
    production = Settings(environment="production", jwt_secret="s" * 40, tracking_key="t" * 40)
    assert production.graphiql_enabled is False


def test_production_jwks_requires_audience_and_issuer() -> None:
    with pytest.raises(ValueError, match="PGW_JWT_AUDIENCE"):
        Settings(
            environment="production",
            jwt_jwks_url="https://idp.example/jwks",
            tracking_key="t" * 40,
        )
    Settings(
        environment="production",
        jwt_jwks_url="https://idp.example/jwks",
        jwt_audience="gateway",
        jwt_issuer="https://idp.example/",
        tracking_key="t" * 40,
    )
