"""CPU per Discovery request of the whole gateway app, in process, warm caches.

``python -m bench.inprocess``: the gateway app (ASGI, in process) over the contract-valid
fakes of ``tests/fakes.py``, the shipped Discovery operation for one signed-in viewer,
200 requests after 30 warm-up ones, standard (graphql-core) and compiled paths alternated
twice. CPU time includes the in-process HTTP client and the fakes, so it is an upper bound
on the gateway's own cost; it is stable enough on a shared machine to compare paths.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from schema.operations import OPERATIONS_DIR, operation_document
from tests.fakes import FakeBackends
from tests.gateway.conftest import HELSINKI, gateway_settings, running_gateway

DOCUMENT = operation_document(OPERATIONS_DIR / "discovery.graphql")


async def cpu_ms_per_request(compiled: bool, requests: int = 200) -> float:
    fakes = FakeBackends()
    settings = gateway_settings(
        Path(tempfile.mkdtemp()), fakes, compiled_execution=compiled, debug=False
    )
    async with running_gateway(settings, fakes) as gw:
        for _ in range(30):
            await gw.query(DOCUMENT, {"location": HELSINKI}, user="u0001")
        started = time.process_time()
        for _ in range(requests):
            await gw.query(DOCUMENT, {"location": HELSINKI}, user="u0001")
        return (time.process_time() - started) / requests * 1000


async def main() -> None:
    for compiled in (False, True, False, True):
        path = "compiled" if compiled else "standard"
        print(f"{path:9s} {await cpu_ms_per_request(compiled):6.2f} ms CPU per request")


if __name__ == "__main__":
    asyncio.run(main())
