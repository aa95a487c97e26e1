"""One reading of a GraphQL-over-HTTP request, shared by every layer that looks at it.

The persisted-query middleware used to read the first ``query`` parameter while Strawberry
executed the last, so in trusted mode ``?query=<trusted>&query=<anything>`` ran anything.
Now the request is read once, here: the middleware (``gateway.persisted``) reads it, keeps
the result in the ASGI scope's state, and the Strawberry view (``GatewayGraphQL``) executes
exactly that result instead of parsing the request again. Ambiguity is refused rather than
resolved: a repeated ``query``, ``operationName``, ``variables`` or ``extensions`` (query
parameter or top-level JSON key) is a 400, as are values of the wrong type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import orjson

#: The request parameters of GraphQL over HTTP (``documentId``: a persisted document's id,
#: decision 0019); each may appear at most once.
PARAMETERS = ("query", "operationName", "variables", "extensions", "documentId")
_KEYS = tuple(f'"{name}"'.encode() for name in PARAMETERS)
#: Where the reading is kept for the view (``scope["state"]``).
STATE_KEY = "graphql_request"


class RequestRefused(Exception):
    """The request cannot be read unambiguously: a GraphQL-shaped 400 (``status``)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    """What a request asks: the four parameters, type-checked."""

    query: str | None
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None
    document_id: str | None = None

    def with_query(self, query: str) -> GraphQLRequest:
        return replace(self, query=query)


def _typed(values: dict[str, Any]) -> GraphQLRequest:
    query = values.get("query")
    if not isinstance(query, str | None):
        raise RequestRefused("The GraphQL operation's `query` must be a string or null.")
    name = values.get("operationName")
    if not isinstance(name, str | None):
        raise RequestRefused("The GraphQL operation's `operationName` must be a string or null.")
    variables = values.get("variables")
    if not isinstance(variables, dict | None):
        raise RequestRefused("The GraphQL operation's `variables` must be an object or null.")
    extensions = values.get("extensions")
    if not isinstance(extensions, dict | None):
        raise RequestRefused("The GraphQL operation's `extensions` must be an object or null.")
    document_id = values.get("documentId")
    if not isinstance(document_id, str | None):
        raise RequestRefused("The GraphQL operation's `documentId` must be a string or null.")
    return GraphQLRequest(query, name, variables, extensions, document_id)


def _json(text: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise RequestRefused(f"`{what}` is not valid JSON.") from None


def read_query_string(raw: bytes) -> GraphQLRequest:
    """A GET request's parameters (decoded as Starlette decodes them)."""
    values: dict[str, Any] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name not in PARAMETERS:
            continue
        if name in values:
            raise RequestRefused(f"The parameter `{name}` is given more than once.")
        values[name] = value
    for name in ("variables", "extensions"):
        if name in values:
            values[name] = _json(values[name], name) if values[name] else None
    if values.get("operationName") == "":
        values["operationName"] = None
    return _typed(values)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise RequestRefused(f"The key `{name}` is given more than once.")
        seen[name] = value
    return seen


def read_json_body(body: bytes) -> GraphQLRequest:
    """A POST request's JSON body (one operation; batching is not enabled)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise RequestRefused("Unable to parse request body as JSON") from None
    if isinstance(data, list):
        raise RequestRefused("Batching is not enabled.")
    if not isinstance(data, dict):
        raise RequestRefused("The body must be a JSON object.")
    if any(body.count(key) > 1 for key in _KEYS):
        # a key may be repeated at the top level (orjson keeps the last): read it again,
        # slowly, only when the bytes say it might be
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    return _typed(data)


def is_json(content_type: str | None) -> bool:
    """Whether a content type is JSON as Strawberry reads it (``application/json``)."""
    return content_type is not None and "application/json" in content_type.lower()
