"""The real subprocess stack starts, answers /healthz on all five ports, and stops."""

from __future__ import annotations

import httpx

from backends.config import BACKEND_NAMES
from backends.stack import BackendStack, free_port


async def test_stack_starts_all_five() -> None:
    ports = {name: free_port() for name in BACKEND_NAMES}
    with BackendStack(ports) as stack:
        await stack.wait_ready(timeout=45)
        async with httpx.AsyncClient() as client:
            for name, url in stack.urls.items():
                r = await client.get(f"{url}/healthz")
                assert r.status_code == 200
                assert r.json()["service"] == name
            r = await client.post(
                f"{stack.urls['catalog']}/v1/venues:batchGet", json={"ids": ["v00001"]}
            )
            assert r.json()["entities"][0]["id"] == "v00001"
    assert not stack.procs
