"""Incremental delivery (decision 0021): documents using ``@defer``/``@stream`` run on the
schema that has them, through graphql-core 3.3's incremental executor.

graphql-core's plain ``execute`` refuses a schema holding the experimental directives, and
the compiled path (0008) and every other document execute through it, so the gateway keeps
two schemas over the same types and picks one per request, before parsing: a document that
mentions neither directive gets the plain schema, as before.
"""

from __future__ import annotations

import re
from typing import Any

from cross_web import HTTPException
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

_INCREMENTAL = re.compile(r"@\s*(?:defer|stream)\b")


def asks_for_incremental_delivery(query: str | None) -> bool:
    """Whether the document may use ``@defer`` or ``@stream`` (a mention in a string or a
    comment also counts: that document then runs on the incremental schema, which answers
    it the same)."""
    return bool(query) and _INCREMENTAL.search(query or "") is not None


class IncrementalDeliveryMixin:
    """Runs documents asking for incremental delivery on ``incremental_schema``."""

    incremental_schema: Any = None
    allow_queries_via_get: bool = True

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: Any,
    ) -> Any:
        schema = self.incremental_schema
        if schema is None or not asks_for_incremental_delivery(request_data.query):
            standard = super().execute_single  # type: ignore[misc]
            return await standard(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        # Strawberry's own execute_single, on the other schema
        allowed = OperationType.from_http(request_adapter.method)
        if not self.allow_queries_via_get and request_adapter.method == "GET":
            allowed = allowed - {OperationType.QUERY}
        try:
            return await schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason()) from e
        except InvalidOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason(request_adapter.method)) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request") from e
