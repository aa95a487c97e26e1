"""The one shape of a refusal outside GraphQL execution (auth, limits, persisted queries):
``{"data": null, "errors": [{"message", "extensions": {"code"}}]}``, so clients handle every
error the same way whichever layer produced it.

A client that asked for ``application/graphql-response+json`` (``gateway/media.py``) gets
that media type and no ``data`` entry: every refusal here happens before execution.

Such a request never reaches the extensions that count and log operations, so each refusal
is counted here (``pgw_http_refusals_total``) and logged as one ``refused`` access line,
which carries the request and trace ids ``RequestIdMiddleware`` binds to the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from starlette.responses import Response

from gateway.media import CONTENT_TYPES, GRAPHQL_RESPONSE_JSON, response_media_type
from gateway.metrics import HTTP_REFUSALS

access_log = structlog.get_logger("gateway.access")


def graphql_error(
    status: int,
    message: str,
    code: str,
    headers: Mapping[str, str] | None = None,
    *,
    accept: str | None = None,
) -> Response:
    """A GraphQL-shaped refusal; ``accept`` is the request's ``Accept`` header."""
    media_type = response_media_type(accept)
    body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": code}}]}
    HTTP_REFUSALS.labels(str(status), code).inc()
    access_log.info("refused", status=status, code=code)
    if media_type != GRAPHQL_RESPONSE_JSON:
        body = {"data": None, **body}
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=CONTENT_TYPES[media_type],
        headers=headers,
    )


def accept_of(scope: Mapping[str, Any]) -> str | None:
    """The ``Accept`` header of an ASGI scope (for refusals made before a ``Request`` exists)."""
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            return str(value.decode("latin-1"))
    return None
