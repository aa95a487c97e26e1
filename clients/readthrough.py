"""The cache in front of a backend, written once for single, batched and per-entity calls.

:func:`read_through` takes one cache key per requested thing (a single call: its key; a
batch: one per request, the key its single call would use; the catalog: one per entity),
and a ``fetch`` for the ones the cache cannot answer:

1. fresh entries are answered from the cache (``HIT``), in one ``get_many``; an entry
   holding ``None`` is a remembered "does not exist" (per-entity negative caching);
2. the rest are fetched — through ``run`` when given (the single call's single-flight: the
   fetch *and* the store are shared, so a waiter that gives up never stops the cache fill);
3. what was fetched is stored in one ``set_many`` (``None`` answers for ``negative_ttl_s``);
4. a failure leaves each affected slot its stale entry (``STALE``) when one is kept and the
   failure is not a rejection (4xx), or the error.

Callers turn the slots into their own answer and report them to the observer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pydantic
from pydantic import BaseModel

from clients.cache import ResponseCache
from clients.call import CachePolicy
from clients.errors import BackendError, BackendRejected
from clients.results import CacheResult

__all__ = ["Answers", "Slot", "read_through", "revalidate"]

V = TypeVar("V")
E = TypeVar("E", bound=BaseModel)

Answers = Mapping[int, tuple[Any, int]]
"""What a fetch gives each index it was asked for: the value (None: it does not exist) or
the :class:`BackendError`, and the HTTP attempts spent on it."""


@dataclass(frozen=True, slots=True)
class Slot(Generic[V]):
    """One requested thing after the cache and the fetch.

    ``value`` is None when it does not exist or failed (``error`` then says why); a stale
    stand-in has both its ``value`` and the ``error`` it stands in for.
    """

    value: V | None
    cache: CacheResult
    attempts: int = 0
    error: BackendError | None = None


def revalidate(model: type[E], value: Any) -> E | None:
    """A cached value as ``model``, or None if it no longer fits (the contract moved).

    The in-memory cache hands back the validated object itself: nothing to do.
    """
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except pydantic.ValidationError:
        return None


def _stored(value: Any, objects: bool) -> Any:
    if objects or not isinstance(value, BaseModel):
        return value
    return value.model_dump(mode="json")


async def read_through(
    cache: ResponseCache,
    policy: CachePolicy,
    keys: Sequence[str],
    check: Callable[[Any], V | None],
    fetch: Callable[[list[int]], Awaitable[Answers]],
    *,
    run: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]] | None = None,
) -> list[Slot[V]]:
    """One slot per key, in order (see the module's docstring).

    ``check`` turns a cached value into the answer's type (None: unusable); ``fetch`` gets
    the indexes to fetch and answers each, or raises a :class:`BackendError` for all of
    them; ``run`` runs the fetch-and-store (e.g. shared by single-flight).
    """
    slots: list[Slot[V] | None] = [None] * len(keys)
    stale: dict[int, V] = {}
    ttl = policy.ttl_s
    if ttl is not None:
        found = await cache.get_many(keys, ttl)
        for n, key in enumerate(keys):
            entry = found.get(key)
            if entry is None:
                continue
            if entry[0] is None:
                slots[n] = Slot(None, CacheResult.HIT)
                continue
            value = check(entry[0])
            if value is None:
                continue
            if entry[1]:
                slots[n] = Slot(value, CacheResult.HIT)
            else:
                stale[n] = value
    todo = [n for n, slot in enumerate(slots) if slot is None]
    if not todo:
        return [slot for slot in slots if slot is not None]

    async def fetch_and_store() -> Answers:
        answers = await fetch(todo)
        if ttl is not None:
            objects = cache.stores_objects
            fresh = {
                keys[n]: _stored(value, objects)
                for n, (value, _) in answers.items()
                if value is not None and not isinstance(value, BackendError)
            }
            await cache.set_many(fresh, ttl, stale_ttl_s=policy.stale_ttl_s)
            if policy.negative_ttl_s > 0:
                absent = {keys[n]: None for n, (value, _) in answers.items() if value is None}
                await cache.set_many(absent, policy.negative_ttl_s)
        return answers

    try:
        answers = await (run(fetch_and_store) if run is not None else fetch_and_store())
    except BackendError as exc:
        answers = {n: (exc, exc.attempts) for n in todo}
    fetched = CacheResult.MISS if ttl is not None else CacheResult.BYPASS
    for n in todo:
        value, attempts = answers.get(n, (None, 0))
        if isinstance(value, BackendError):
            if n in stale and not isinstance(value, BackendRejected):
                slots[n] = Slot(stale[n], CacheResult.STALE, attempts, value)
            else:
                slots[n] = Slot(None, fetched, attempts, value)
        else:
            slots[n] = Slot(value, fetched, attempts)
    return [slot for slot in slots if slot is not None]
