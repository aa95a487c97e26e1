"""One backend call as a value: what every layer of the call path reads.

In httpx's manner (one ``Request`` through ``send → auth → redirects → transport``), a
:class:`Call` is built once by :meth:`clients.base.BackendClient.prepare` and handed down
unchanged through the layers of :meth:`~clients.base.BackendClient.send`::

    cache (read_through)  →  single-flight  →  retry  →  breaker + one attempt

Before it, the request's deadline, a reserve and ten loose arguments travelled through four
levels; now each layer takes the call and reads what it needs. The reserve (time kept back
for the caller's fallbacks, hydration and serialisation) is folded into ``deadline`` once,
so no layer can forget to subtract it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from clients.deadline import Deadline

M = TypeVar("M", bound=BaseModel)

__all__ = ["CachePolicy", "Call"]


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How one backend's answers are cached (from its ``BackendConfig``).

    Attributes:
        ttl_s: how long an entry is fresh; None: nothing is read or stored.
        stale_ttl_s: how long after that it may stand in when the backend fails.
        negative_ttl_s: how long "this id does not exist" is remembered (per-entity calls).
    """

    ttl_s: float | None
    stale_ttl_s: float = 0.0
    negative_ttl_s: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.ttl_s is not None


UNCACHED = CachePolicy(None)


@dataclass(frozen=True, slots=True)
class Call(Generic[M]):
    """One call to one backend endpoint.

    Attributes:
        backend: the backend's name (errors, metrics).
        endpoint: the logical endpoint name (``rank``).
        method: HTTP method.
        path: path relative to the backend's base URL.
        model: the contract model of the answer; None for answers without a body to read.
        deadline: the request's deadline with the caller's reserve already taken off.
        content: the encoded request body.
        params: query parameters.
        headers: the request headers (defaults and content type merged in).
        idempotent: whether the call may be retried and shared between callers.
        cache_key: where the validated answer is cached (also the single-flight key).
        expect_status: a status that means success without a body (``202``).
    """

    backend: str
    endpoint: str
    method: str
    path: str
    model: type[M] | None
    deadline: Deadline
    content: bytes | None = None
    params: Mapping[str, str | int] | None = None
    headers: Mapping[str, str] | None = None
    idempotent: bool = True
    cache_key: str | None = None
    expect_status: int | None = None

    def budget(self, timeout_s: float) -> float:
        """How long one attempt may take: ``min(timeout_s, what the deadline leaves)``."""
        return self.deadline.budget_for(timeout_s)
