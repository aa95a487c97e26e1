"""OpenTelemetry: a span per GraphQL operation, per section and per backend call.

The operation span follows the GraphQL semantic conventions (``graphql.operation.type``,
``graphql.operation.name``, named ``"{type} {name}"``); each HTTP attempt to a backend is an
HTTP client span (``http.request.method``, ``server.address``, ``url.full``,
``http.response.status_code``; ``clients/base.py``) under the call's own span.

Off by default. Turned on by the standard variables: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) with ``OTEL_TRACES_EXPORTER`` unset or ``otlp``;
``OTEL_SDK_DISABLED=true`` wins. The OTLP/HTTP exporter reads the rest of its ``OTEL_*``
configuration (headers, timeouts, service name via ``OTEL_SERVICE_NAME``) itself. The
incoming W3C ``traceparent`` is the parent of the operation span, and every backend call
carries its own ``traceparent`` onward (``clients/base.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode
from strawberry.extensions import SchemaExtension

from gateway.operation_names import telemetry_name
from resolvers import RequestReport
from schema import gateway_context, operation_errors

_tracer = trace.get_tracer("pgw.gateway")


def tracing_requested() -> bool:
    """Whether the ``OTEL_*`` environment asks for traces to be exported."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower() != "otlp":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


_configured = False


def _operation_type(execution_context: Any) -> str | None:
    """``query``, ``mutation`` or ``subscription``; None when the document did not parse."""
    try:
        return str(execution_context.operation_type.value)
    except Exception:
        return None


def tracing_active() -> bool:
    """Whether a real tracer provider is installed (by :func:`configure_tracing` or a test):
    the API's default is a proxy that only ever hands out no-op spans."""
    return not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


def configure_tracing() -> bool:
    """Install an OTLP-exporting tracer provider once, if requested; returns whether it is."""
    global _configured
    if _configured or not tracing_requested():
        return _configured
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "pgw")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return True


class OperationSpan(SchemaExtension):
    """The request's span: child of the caller's ``traceparent``, parent of everything."""

    def on_operation(self) -> Iterator[None]:
        if not tracing_active():
            # Without a tracer provider every span is a no-op, but making one and attaching
            # it (and the caller's context) still costs a measurable share of a page served
            # from the page cache (decision 0015, "Figures"). Backends then get no
            # traceparent, as ``clients.base`` documents.
            yield
            return
        context = gateway_context(self.execution_context)
        request = context.request if context is not None else None
        parent = extract(dict(request.headers)) if request is not None else None
        token = otel_context.attach(parent) if parent is not None else None
        try:
            with _tracer.start_as_current_span("graphql", kind=SpanKind.SERVER) as span:
                yield
                if span.is_recording():
                    # OpenTelemetry's GraphQL conventions: "{type} {name}" (the name bounded
                    # to the shipped operations, as in the metrics), the type as an attribute
                    name = telemetry_name(self.execution_context.operation_name)
                    kind = _operation_type(self.execution_context)
                    span.update_name(f"{kind} {name}" if kind else "GraphQL Operation")
                    report = context.report if context is not None else RequestReport()
                    errors = operation_errors(self.execution_context)
                    if kind:
                        span.set_attribute("graphql.operation.type", kind)
                    span.set_attributes(
                        {
                            "graphql.operation.name": name,
                            "pgw.request_id": context.viewer.request_id if context else "",
                            "pgw.surface": report.surface,
                            "pgw.degraded": report.degraded,
                            "pgw.errors": len(errors),
                        }
                    )
                    if errors:
                        span.set_status(Status(StatusCode.ERROR, "graphql errors"))
        finally:
            if token is not None:
                otel_context.detach(token)
