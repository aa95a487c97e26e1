"""Serving known documents through the compiled path, inside Strawberry's HTTP handling.

``CompiledPath.lookup(query, operation_name)`` finds the compiled form of a known document
(the apps' shipped operations, ``schema/operations/``, preloaded at start-up; optionally any
query, compiled on first sight into a bounded cache). ``CompiledPath.execute`` then runs it
exactly where Strawberry's ``schema.execute`` would run, so everything around it is
unchanged — the router's context getter (token verification, rate limiting, the viewer),
the 401/429/4xx handlers, ``process_result`` and orjson encoding — and the schema's own
extensions run through Strawberry's own ``SchemaExtensionsRunner`` with a real
``ExecutionContext``: ``OperationSpan``, ``RequestMetrics``, ``AccessLog`` see the operation
and its result, ``DebugTimings`` adds ``extensions.debug``. Parsing and validation (and their
caches) are skipped because the document was parsed and validated once, at compile time,
with the same limits (``MaxTokensLimiter``'s token limit for parsing, every
``AddValidationRules`` extension's rules — depth, aliases, root fields, cost, directives,
introspection — for validation, after the same linear shape check as ``DocumentGate``).
A document that fails any of that is not compiled and takes the standard path, which
reports the error as today.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graphql import GraphQLError, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.compiled.compiler import CompiledOperation, compile_operation
from gateway.compiled.roots import root_caller
from gateway.document_shape import document_shape
from gateway.limits import DocumentGate, Limits, refusals


def _hooks_resolvers(schema: Any) -> bool:
    """Whether an extension hooks field resolution (the compiled path resolves no fields)."""
    return any(
        type(extension).resolve is not SchemaExtension.resolve
        for extension in schema.get_extensions()
    )


def _limits(
    schema: Any,
) -> tuple[list[type[ASTValidationRule]], int | None, Limits | None]:
    """The validation rules, token limit and document limits the schema's extensions add
    per operation."""
    rules: list[type[ASTValidationRule]] = []
    max_tokens: int | None = None
    limits: Limits | None = None
    for extension in schema.get_extensions():
        if isinstance(extension, AddValidationRules):
            rules.extend(extension.validation_rules)
        elif isinstance(extension, MaxTokensLimiter):
            max_tokens = extension.max_token_count
        elif isinstance(extension, DocumentGate):
            limits = extension.limits
    return rules, max_tokens, limits


def shipped_documents(directory: Path | None = None) -> list[str]:
    """The apps' shipped documents (each surface's query with the shared fragments), as the
    apps send them."""
    from schema.operations import OPERATIONS_DIR, operation_document, operation_files

    folder = directory or OPERATIONS_DIR
    return [operation_document(path, folder) for path in operation_files(folder)]


class CompiledPath:
    """Known documents → compiled operations, and their execution as Strawberry would."""

    def __init__(
        self,
        schema: Any,
        *,
        documents: Iterable[str] = (),
        compile_unknown: bool = False,
        maxsize: int = 512,
    ) -> None:
        """``schema`` is the gateway's Strawberry schema (``gateway_schema(limits)``)."""
        self.schema = schema
        self.compile_unknown = compile_unknown
        self.maxsize = maxsize
        self._rules, self._max_tokens, self._document_limits = _limits(schema)
        self._known: dict[tuple[str, str | None], CompiledOperation | None] = {}
        self._seen: OrderedDict[tuple[str, str | None], CompiledOperation | None] = OrderedDict()
        if _hooks_resolvers(schema):
            # e.g. a field-level permission or tracing extension: it must see every field,
            # so every request takes the standard path.
            self.compile_unknown = False
            documents = ()
        for text in documents:
            for name in self._operation_names(text):
                self._known[(text, name)] = self._compile(text, name)
                # a single operation is also sent without its name
                if len(self._operation_names(text)) == 1:
                    self._known[(text, None)] = self._known[(text, name)]

    @staticmethod
    def _operation_names(text: str) -> list[str | None]:
        from graphql import OperationDefinitionNode

        names: list[str | None] = []
        for definition in parse(text).definitions:
            if isinstance(definition, OperationDefinitionNode):
                names.append(definition.name.value if definition.name else None)
        return names

    def _compile(self, query: str, operation_name: str | None) -> CompiledOperation | None:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError:
            return None
        if self._document_limits is not None:
            # the standard path's gate, first: graphql-core's validation inside
            # compile_operation is quadratic in repeated fields and must not see a document
            # the limits refuse (nor one with a fragment cycle)
            shape = document_shape(self.schema._schema, document)
            if shape.fragment_cycle or refusals(shape, self._document_limits):
                return None
        return compile_operation(self.schema._schema, document, operation_name, rules=self._rules)

    @property
    def known(self) -> dict[tuple[str, str | None], CompiledOperation | None]:
        return dict(self._known)

    def lookup(self, query: str | None, operation_name: str | None) -> CompiledOperation | None:
        """The compiled operation for this request, or None for the standard path."""
        if not query:
            return None
        key = (query, operation_name)
        if key in self._known:
            return self._known[key]
        if not self.compile_unknown:
            return None
        if key in self._seen:
            self._seen.move_to_end(key)
            return self._seen[key]
        compiled = self._compile(query, operation_name)
        self._seen[key] = compiled
        if len(self._seen) > self.maxsize:
            self._seen.popitem(last=False)
        return compiled

    async def execute(
        self,
        compiled: CompiledOperation,
        *,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Any,
        root_value: Any = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """What ``schema.execute`` returns for this request, through the compiled path."""
        schema = self.schema
        execution_context = ExecutionContext(
            query=query,
            schema=schema,
            allowed_operations={OperationType.QUERY},
            context=context,
            variables=variables,
            root_value=root_value,
            provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )
        extensions = schema.get_extensions()
        for extension in extensions:
            extension.execution_context = execution_context
        runner = schema.create_extensions_runner(execution_context, extensions)
        async with runner.operation():
            execution_context.graphql_document = compiled.document
            async with runner.executing():
                result = await compiled.execute_result(
                    variables,
                    root_caller(compiled, context, root_value=root_value),
                    context=context,
                    execution_context=execution_context,
                )
                execution_context.result = result
                if result.errors:
                    execution_context.pre_execution_errors = result.errors
        final = ExecutionResult(data=result.data, errors=result.errors)
        final.extensions = await runner.get_extensions_results(execution_context)
        execution_context.result = final
        return final
