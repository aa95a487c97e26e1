"""Structured JSON logs: one access line per GraphQL operation, one warning per fallback,
one ``refused`` line per request refused before execution — and every standard-library
logger (uvicorn, clients, cache, masked-error tracebacks, events) through the same JSON
renderer at INFO and above, so a deployment has one log stream. ``RequestIdMiddleware``
binds the request and trace ids to the context, so every line logged while a request is
handled carries them.

No personal data: the viewer id is logged only as a keyed hash (stable within a deployment,
so one viewer's requests can be correlated, but not reversible by enumerating user ids),
and no arguments or locations are logged.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson
import structlog
from strawberry.extensions import SchemaExtension

from schema import gateway_context, operation_errors

access_log = structlog.get_logger("gateway.access")
fallback_log = structlog.get_logger("gateway.fallback")

_HASH_KEY = secrets.token_bytes(16)


class _CurrentStdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


#: Loggers that log every HTTP call at INFO (the clients' own metrics and traces cover it).
_CHATTY = ("httpx", "httpcore")


def configure_logging(*, level: str = "INFO", hash_key: bytes | None = None) -> None:
    """JSON lines on stdout: structlog's loggers and the standard library's, one renderer."""
    global _HASH_KEY
    if hash_key:
        _HASH_KEY = hashlib.blake2b(hash_key, digest_size=16).digest()
    renderer = structlog.processors.JSONRenderer(serializer=_orjson_text)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    handler = _CurrentStdout()
    handler.set_name("pgw-json")
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "pgw-json"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _orjson_text(event: Any, **kwargs: Any) -> str:
    """orjson for the JSON lines (structlog's performance advice; the stdlib encoder's cost is
    in decision 0015, "Figures"), as text for the print logger; unknown types via
    ``default``."""
    return orjson.dumps(event, default=kwargs.get("default")).decode()


def hash_viewer(user_id: str | None) -> str | None:
    if user_id is None:
        return None
    return hashlib.blake2b(user_id.encode(), key=_HASH_KEY, digest_size=8).hexdigest()


def trace_id_from(traceparent: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header (``00-<trace>-<span>-<flags>``)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


class AccessLog(SchemaExtension):
    """Logs each operation once it is done, and each fallback's backend and cause."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = gateway_context(self.execution_context)
        if context is None:
            return
        viewer, report = context.viewer, context.report
        fields: dict[str, Any] = {
            "request_id": viewer.request_id,
            "correlation_id": context.correlation_id,
            "trace_id": context.trace_id,
            "operation": self.execution_context.operation_name,
            "surface": report.pages[0].surface if report.pages else None,
            "viewer": hash_viewer(viewer.user_id),
            "degraded": report.degraded,
            "sources": report.sources,
            "page_cache": report.page_cache,
            # the exposure record: one per request, per experiment the viewer is in
            "experiments": report.experiments,
            "errors": len(operation_errors(self.execution_context)),
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        for trace in report.pages:
            for failure in trace.failures:
                backend, _, rest = failure.partition(":")
                endpoint, _, cause = rest.rpartition(":")
                fallback_log.warning(
                    "backend call failed",
                    request_id=viewer.request_id,
                    surface=trace.surface,
                    # whether a section (or the page) had to fall back because of it
                    page_degraded=trace.degraded,
                    backend=backend,
                    endpoint=endpoint,
                    cause=cause,
                )
        access_log.info("graphql", **fields)
