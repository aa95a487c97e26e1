"""Clients cannot spend our resources for free: failed tokens are rate limited per client
before verification, and the anonymous key is the real address (uvicorn's trusted proxies),
never a header a client can forge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.auth import mint_token
from tests.gateway.conftest import SECRET, GatewayFactory
from tests.live import ROOT, free_port, wait_healthy

TYPENAME = {"query": "{ __typename }"}

#: starting a real server on a loaded 2-core machine takes up to a minute or more
pytestmark = pytest.mark.timeout(400)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_failed_tokens_block_the_client_before_verification(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(
        rate_limit_failed_tokens_burst=3, rate_limit_failed_tokens_rps=0.01
    ) as gw:
        known = mint_token("u0001", SECRET)
        assert (await gw.client.post("/graphql", json=TYPENAME, headers=_bearer(known))).is_success
        statuses = [
            (await gw.client.post("/graphql", json=TYPENAME, headers=_bearer(f"bad.{n}.x")))
            for n in range(4)
        ]
        assert [r.status_code for r in statuses] == [401, 401, 401, 429]
        assert statuses[-1].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(statuses[-1].headers["retry-after"]) > 0
        # blocked: even a valid but unknown token is refused before it is verified
        fresh = mint_token("u0002", SECRET)
        refused = await gw.client.post("/graphql", json=TYPENAME, headers=_bearer(fresh))
        assert refused.status_code == 429
        # a token verified before still works (nothing to verify)
        again = await gw.client.post("/graphql", json=TYPENAME, headers=_bearer(known))
        assert again.status_code == 200


def _serve(tmp_path: Path, forwarded_allow_ips: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PGW_ENVIRONMENT": "test",
        "PGW_JWT_SECRET": SECRET,
        "PGW_DECISION_LOG_PATH": str(tmp_path / "decisions.jsonl"),
        "PGW_EVENTS_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "PGW_REFERENCE_REFRESH_S": "3600",
        "PGW_RATE_LIMIT_ANONYMOUS_BURST": "2",
        "PGW_RATE_LIMIT_ANONYMOUS_RPS": "0.01",
        "FORWARDED_ALLOW_IPS": forwarded_allow_ips,
    }
    log = (tmp_path / f"gateway-{port}.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}/healthz", 180, server)
    return server, url


def _statuses(url: str, addresses: list[str]) -> list[int]:
    with httpx.Client(timeout=10) as client:
        return [
            client.post(
                f"{url}/graphql", json=TYPENAME, headers={"X-Forwarded-For": address}
            ).status_code
            for address in addresses
        ]


def test_a_forged_forwarded_for_gets_no_fresh_budget(tmp_path: Path) -> None:
    # the peer (127.0.0.1) is not a trusted proxy: X-Forwarded-For is ignored
    server, url = _serve(tmp_path, "192.0.2.1")
    try:
        assert _statuses(url, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [
            200,
            200,
            429,
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_behind_a_trusted_proxy_the_real_address_is_the_key(tmp_path: Path) -> None:
    server, url = _serve(tmp_path, "127.0.0.1")
    try:
        assert _statuses(url, ["198.51.100.1", "198.51.100.1", "198.51.100.1"]) == [
            200,
            200,
            429,
        ]
        assert _statuses(url, ["198.51.100.2"]) == [200]
    finally:
        server.terminate()
        server.wait(timeout=30)
