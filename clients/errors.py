"""The errors a backend client raises; nothing else leaves ``clients/``.

Hierarchy::

    BackendError                 any failure of a backend call (.backend, .endpoint)
    ├── BackendTimeout           the call's time budget ran out (or there was none left)
    ├── BackendUnavailable       connect error, broken connection, HTTP 5xx or 429 (.status)
    ├── BackendMalformed         the body is not JSON or not the contract's shape
    ├── CircuitOpen              the backend's circuit breaker refused the call
    └── BackendRejected          HTTP 4xx other than 429: our request was wrong (.status)

``BackendTimeout``, ``BackendUnavailable`` and ``BackendMalformed`` count against the circuit
breaker; ``BackendRejected`` does not (it is the caller's fault, the backend is healthy) and is
never retried. Only connect errors, 429 and 503 are retried (``BackendUnavailable.retryable``).
httpx and pydantic exceptions are translated once, in :func:`clients.base.map_backend_errors`,
with ``raise ... from exc`` so the cause stays visible in logs.

Each class names its ``outcome`` as reported to :class:`clients.observe.CallObserver`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

CallOutcome = Literal["ok", "timeout", "error", "malformed", "circuit_open", "rejected"]

__all__ = [
    "BackendError",
    "BackendMalformed",
    "BackendRejected",
    "BackendTimeout",
    "BackendUnavailable",
    "CallOutcome",
    "CircuitOpen",
]


class BackendError(Exception):
    """A backend call failed; the caller should fall back.

    Attributes:
        backend: the backend's name (``catalog``, ``ranking``...).
        endpoint: the logical endpoint (``rank``, ``venues``...).
        attempts: how many HTTP attempts were made (0 if none reached the network).
    """

    outcome: ClassVar[CallOutcome] = "error"
    default_message: ClassVar[str] = "backend call failed"

    def __init__(self, backend: str, endpoint: str, message: str = "", *, attempts: int = 0):
        self.backend = backend
        self.endpoint = endpoint
        self.message = message or self.default_message
        self.attempts = attempts
        super().__init__(f"{backend}.{endpoint}: {self.message}")


class BackendTimeout(BackendError):
    """The call did not answer within its budget, or no budget was left to try."""

    outcome: ClassVar[CallOutcome] = "timeout"
    default_message: ClassVar[str] = "timed out"


class BackendUnavailable(BackendError):
    """The backend could not be reached or answered 5xx/429.

    Attributes:
        status: the HTTP status, or ``None`` for a connection-level failure.
        retryable: whether a retry may help (connect errors, 429, 503).
    """

    default_message: ClassVar[str] = "unavailable"

    def __init__(
        self,
        backend: str,
        endpoint: str,
        message: str = "",
        *,
        status: int | None = None,
        retryable: bool = False,
        attempts: int = 0,
    ):
        self.status = status
        self.retryable = retryable
        super().__init__(backend, endpoint, message, attempts=attempts)


class BackendMalformed(BackendError):
    """The body was not JSON, or not the shape of the contract's model."""

    outcome: ClassVar[CallOutcome] = "malformed"
    default_message: ClassVar[str] = "malformed response"


class CircuitOpen(BackendError):
    """The backend's circuit breaker is open (or half-open with its probe in flight)."""

    outcome: ClassVar[CallOutcome] = "circuit_open"
    default_message: ClassVar[str] = "circuit open"


class BackendRejected(BackendError):
    """The backend answered 4xx (not 429): the request was wrong. Not retried, not counted.

    Attributes:
        status: the HTTP status.
    """

    outcome: ClassVar[CallOutcome] = "rejected"
    default_message: ClassVar[str] = "request rejected"

    def __init__(
        self, backend: str, endpoint: str, message: str = "", *, status: int, attempts: int = 0
    ):
        self.status = status
        super().__init__(backend, endpoint, message, attempts=attempts)
