"""The one hook the HTTP layer needs: Strawberry's ``execute_single``, compiled when known.

Mixed into ``gateway.app.GatewayGraphQL`` (before Strawberry's view), it sends a request
whose document ``CompiledPath`` knows through the compiled path and every other request
through Strawberry unchanged. Context building, auth and rate limiting (the context getter),
HTTP refusals, ``process_result`` and the orjson encoding all stay Strawberry's.
"""

from __future__ import annotations

from typing import Any

from gateway.compiled.serving import CompiledPath


class CompiledExecutionMixin:
    """Routes known documents to ``compiled_path`` (None: always the standard path)."""

    compiled_path: CompiledPath | None = None

    def document_validated(self, request: Any, query: str | None) -> None:
        """Called when a document is served compiled (it validated at compile time)."""

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: Any,
    ) -> Any:
        path = self.compiled_path
        eligible = (
            path is not None
            # queries over GET only when the view allows them (Strawberry's own rule)
            and (request_adapter.method != "GET" or getattr(self, "allow_queries_via_get", True))
            and (request_data.variables is None or isinstance(request_data.variables, dict))
        )
        compiled = (
            path.lookup(request_data.query, request_data.operation_name)
            if eligible and path is not None
            else None
        )
        if compiled is not None and path is not None:
            self.document_validated(request, request_data.query)
            return await path.execute(
                compiled,
                query=request_data.query,
                variables=request_data.variables,
                operation_name=request_data.operation_name,
                context=context,
                root_value=root_value,
                operation_extensions=request_data.extensions,
            )
        standard = super().execute_single  # type: ignore[misc]
        return await standard(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=request_data,
        )
