"""The one shape of a refusal outside GraphQL execution (auth, limits, persisted queries):
``{"data": null, "errors": [{"message", "extensions": {"code"}}]}``, so clients handle every
error the same way whichever layer produced it."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.responses import Response


def graphql_error(
    status: int, message: str, code: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
