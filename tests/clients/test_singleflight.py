import asyncio

import pytest

from clients import SingleFlight


async def test_concurrent_calls_share_one_result() -> None:
    flight = SingleFlight()
    release = asyncio.Event()
    started = 0

    async def work() -> int:
        nonlocal started
        started += 1
        await release.wait()
        return 42

    waiters = [asyncio.create_task(flight.do("k", work)) for _ in range(10)]
    await asyncio.sleep(0)
    assert len(flight) == 1
    release.set()
    assert await asyncio.gather(*waiters) == [42] * 10
    assert started == 1
    assert len(flight) == 0  # forgotten once done: no reuse after the fact


async def test_exceptions_are_shared() -> None:
    flight = SingleFlight()
    release = asyncio.Event()

    async def work() -> int:
        await release.wait()
        raise ValueError("boom")

    waiters = [asyncio.create_task(flight.do("k", work)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)


async def test_cancelling_one_waiter_does_not_cancel_the_shared_call() -> None:
    flight = SingleFlight()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "done"

    first = asyncio.create_task(flight.do("k", work))
    second = asyncio.create_task(flight.do("k", work))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await second == "done"


async def test_different_keys_do_not_share() -> None:
    flight = SingleFlight()

    async def value(v: int) -> int:
        return v

    assert await asyncio.gather(
        flight.do("a", lambda: value(1)), flight.do("b", lambda: value(2))
    ) == [1, 2]
