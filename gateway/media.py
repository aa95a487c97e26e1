"""GraphQL over HTTP's two response media types, and which one a request asked for.

The GraphQL-over-HTTP specification defines ``application/graphql-response+json``: with it,
a *request error* (the document does not parse or validate, the variables do not coerce, the
request itself is malformed) is a 4xx without a ``data`` entry, so a client, a proxy or a
CDN can tell "your request is wrong" from "the server ran it and some fields failed" by the
status alone. ``application/json`` is the legacy form every GraphQL client understands: 200
with ``"data": null`` and the errors; it stays the answer whenever the client did not ask
for the new type (no ``Accept``, ``*/*``, or ``application/json``), so existing clients see
no change. Decision 0019.
"""

from __future__ import annotations

from typing import Any, Final

GRAPHQL_RESPONSE_JSON: Final = "application/graphql-response+json"
APPLICATION_JSON: Final = "application/json"

#: ``Content-Type`` of each media type's responses (both are UTF-8 JSON).
CONTENT_TYPES: Final = {
    GRAPHQL_RESPONSE_JSON: f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8",
    APPLICATION_JSON: APPLICATION_JSON,
}


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


def response_media_type(accept: str | None) -> str:
    """The media type to answer with: ``application/graphql-response+json`` when the client
    names it (and does not prefer ``application/json`` by quality), else ``application/json``.

    Wildcards (``*/*``, ``application/*``) count for ``application/json`` only: a client that
    did not name the new type gets the legacy behaviour it was written against.
    """
    if not accept or GRAPHQL_RESPONSE_JSON not in accept:
        return APPLICATION_JSON
    new = legacy = 0.0
    for item in accept.split(","):
        media_range, *parameters = item.split(";")
        name = media_range.strip().lower()
        quality = _quality(parameters)
        if name == GRAPHQL_RESPONSE_JSON:
            new = max(new, quality)
        elif name in (APPLICATION_JSON, "application/*", "*/*"):
            legacy = max(legacy, quality)
    return GRAPHQL_RESPONSE_JSON if new > 0 and new >= legacy else APPLICATION_JSON


def is_request_error(result: Any) -> bool:
    """Whether an execution result is a *request error*: no data and every error raised
    before execution (parse, validation, variable coercion, operation selection).

    graphql-core gives every field error a ``path``; errors raised before execution have
    none. A ``data: null`` that comes from a failing non-null root field is a field error and
    stays a 200 with ``data``.
    """
    errors = getattr(result, "errors", None)
    if getattr(result, "data", None) is not None or not errors:
        return False
    return all(getattr(error, "path", None) is None for error in errors)
