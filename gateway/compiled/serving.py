"""Serving known documents through the compiled path, inside Strawberry's HTTP handling.

``CompiledPath.lookup(query, operation_name)`` finds the compiled form of a known document
(the apps' shipped operations, ``schema/operations/``, preloaded at start-up) or of any
other document once it is hot (decision 0023): every text is counted under its *meaning*
(``gateway.compiled.meaning``: no whitespace, no aliases, no ``__typename``, fragments
inlined), and a text is compiled — from its own bytes, so it answers its own aliases and
``__typename`` — once its meaning has run ``hot_after`` times (a shipped document's meaning
is hot from the start) and the text itself came back (so a flood of one-off spellings
compiles nothing), into a bounded LRU of compiled plans, as mercurius's ``jit`` does.
``CompiledPath.execute`` then runs it exactly where Strawberry's ``schema.execute`` would
run, so everything around it is unchanged — the view's context getter (token verification,
rate limiting, the viewer), the 401/429/4xx handlers, ``process_result`` and orjson encoding
— and the schema's own extensions run through Strawberry's own ``SchemaExtensionsRunner``
with a real ``ExecutionContext``: ``OperationSpan``, ``RequestMetrics``, ``AccessLog`` see
the operation and its result, ``DebugTimings`` adds ``extensions.debug``. Parsing and
validation (and their caches) are skipped because the document was parsed and validated
once, at compile time, with the same limits (``MaxTokensLimiter``'s token limit for parsing,
every ``AddValidationRules`` extension's rules — depth, aliases, root fields, cost,
directives, introspection — for validation, after the same linear shape check as
``DocumentGate``). A document that fails any of that is not compiled and takes the standard
path, which reports the error as today.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.compiled.compiler import CompiledOperation, compile_operation
from gateway.compiled.meaning import meaning_of
from gateway.compiled.roots import root_caller
from gateway.document_shape import document_shape
from gateway.extensions import code_errors
from gateway.limits import DocumentGate, Limits, refusals

# Meanings counted per compiled plan kept (the counts are a few bytes each).
_MEANINGS_PER_PLAN = 4


@dataclass(slots=True)
class _Text:
    """One spelling of a document seen at run time, until it is compiled or refused."""

    meaning: str | None
    seen: int = 0
    decided: bool = False
    compiled: CompiledOperation | None = None


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
        hot_after: int = 1,
        maxsize: int = 512,
    ) -> None:
        """``schema`` is the gateway's Strawberry schema (``gateway_schema(limits)``);
        ``compile_unknown`` compiles other documents once hot: after ``hot_after``
        executions of their meaning (``PGW_COMPILED_HOT_AFTER``), at most ``maxsize`` kept."""
        self.schema = schema
        self.compile_unknown = compile_unknown
        self.hot_after = max(1, hot_after)
        self.maxsize = maxsize
        self.compilations = 0
        self._rules, self._max_tokens, self._document_limits = _limits(schema)
        self._known: dict[tuple[str, str | None], CompiledOperation | None] = {}
        self._texts: OrderedDict[tuple[str, str | None], _Text] = OrderedDict()
        self._meanings: OrderedDict[str, int] = OrderedDict()
        self._hot_meanings: set[str] = set()
        if _hooks_resolvers(schema):
            # e.g. a field-level permission or tracing extension: it must see every field,
            # so every request takes the standard path.
            self.compile_unknown = False
            documents = ()
        for text in documents:
            names = self._operation_names(text)
            for name in names:
                self._known[(text, name)] = self._compile(text, name)
                # a single operation is also sent without its name
                if len(names) == 1:
                    self._known[(text, None)] = self._known[(text, name)]
                if self._known[(text, name)] is not None:
                    meaning = meaning_of(parse(text), name)
                    if meaning is not None:
                        self._hot_meanings.add(meaning)

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
        processor = getattr(self.schema, "_error_processor", None) or code_errors
        return compile_operation(
            self.schema._schema,
            document,
            operation_name,
            rules=self._rules,
            error_processor=processor,  # the schema's own (codes, no suggestions, a cap)
        )

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
        entry = self._texts.get(key)
        if entry is None:
            entry = _Text(self._meaning(query, operation_name))
            self._texts[key] = entry
            if len(self._texts) > self.maxsize:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(key)
            if entry.decided:
                return entry.compiled
        entry.seen += 1
        if not self._hot(entry):
            return None
        entry.decided = True
        entry.compiled = self._compile(query, operation_name)
        self.compilations += 1
        return entry.compiled

    def _meaning(self, query: str, operation_name: str | None) -> str | None:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError:
            return None
        if self._document_limits is not None:
            # inlining fragments is exponential in a hostile document: the gate first
            shape = document_shape(self.schema._schema, document)
            if shape.fragment_cycle or refusals(shape, self._document_limits):
                return None
        return meaning_of(document, operation_name)

    def _hot(self, entry: _Text) -> bool:
        """Count one execution of ``entry``'s meaning; whether to compile the text now."""
        runs = entry.seen
        meaning = entry.meaning
        if meaning is not None:
            if meaning in self._hot_meanings:
                runs = self.hot_after
            else:
                runs = self._meanings.pop(meaning, 0) + 1
                self._meanings[meaning] = runs
                if len(self._meanings) > self.maxsize * _MEANINGS_PER_PLAN:
                    self._meanings.popitem(last=False)
        # A text seen once is not compiled unless one run is enough: a flood of one-off
        # spellings of a hot meaning must not buy a compilation each.
        return runs >= self.hot_after and entry.seen >= min(2, self.hot_after)

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
