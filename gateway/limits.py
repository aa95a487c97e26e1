"""Query limits: what one GraphQL request may ask of the gateway.

Every root field is a whole page build (a fan-out to five backends), so the expensive
shapes are many root fields (aliases of ``discovery``, also through fragments), deep or long
documents, repetition that makes validation itself quadratic, and introspection by
strangers. Lists below the root are bounded by the surface plans and by ``first``
(≤ ``max_first``), so a depth limit plus a root-field limit bound a request's cost.

All limits read one ``DocumentShape`` (``gateway.document_shape``), computed in linear time
with each fragment walked once. ``DocumentGate`` checks them *before* graphql-core's own
validation (whose overlap rule is quadratic in repeated fields, and which reports every
unknown directive), and skips them when the document has a fragment cycle: then only
graphql-core's ``NoFragmentCyclesRule`` runs, and refuses it. The same checks run as a
validation rule, so the compiled path (``gateway/compiled``), which validates with the
schema's rules, enforces them too. Defaults leave the shipped client operations ample room.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoFragmentCyclesRule,
    ValidationContext,
    ValidationRule,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)

from gateway.document_shape import DocumentShape, document_shape


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits (``PGW_MAX_*`` settings)."""

    max_depth: int = 12
    max_aliases: int = 20
    max_tokens: int = 1000
    max_root_fields: int = 4
    max_cost: int = 25_000
    introspection: bool = False
    max_directives: int = 16
    #: field/fragment pairs graphql-core's overlap rule may compare (its cost is per pair)
    max_merge_pairs: int = 3000
    max_errors: int = 20


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def refusals(shape: DocumentShape, limits: Limits) -> list[GraphQLError]:
    """Every limit ``shape`` breaks, as coded errors (none for a fragment cycle, which
    graphql-core's own rule refuses)."""
    if shape.fragment_cycle:
        return []
    errors: list[GraphQLError] = []
    invalid = "GRAPHQL_VALIDATION_FAILED"
    if shape.directives > limits.max_directives:
        errors.append(
            _error(
                f"{shape.directives} directives found. Allowed: {limits.max_directives}.",
                invalid,
            )
        )
    if shape.repeated_directives:
        errors.append(_error("A directive is repeated on one field or fragment.", invalid))
    if shape.aliases > limits.max_aliases:
        errors.append(
            _error(f"{shape.aliases} aliases found. Allowed: {limits.max_aliases}", invalid)
        )
    if shape.merge_pairs > limits.max_merge_pairs:
        errors.append(
            _error(
                "This document repeats fields or fragments too often "
                f"({shape.merge_pairs} comparisons to check; at most {limits.max_merge_pairs}).",
                "QUERY_TOO_COMPLEX",
            )
        )
    for operation in shape.operations:
        name = operation.node.name.value if operation.node.name else "anonymous"
        if operation.depth > limits.max_depth:
            errors.append(
                _error(f"'{name}' exceeds maximum operation depth of {limits.max_depth}", invalid)
            )
        if operation.root_fields > limits.max_root_fields:
            errors.append(
                _error(
                    f"An operation may select at most {limits.max_root_fields} surfaces (root "
                    f"fields, counted through fragments); this one selects "
                    f"{operation.root_fields}.",
                    "QUERY_TOO_COMPLEX",
                )
            )
        elif operation.cost > limits.max_cost:
            errors.append(
                _error(
                    f"This operation is estimated to cost {operation.cost}, over the limit of "
                    f"{limits.max_cost}; ask for fewer fields or smaller lists.",
                    "QUERY_TOO_COMPLEX",
                )
            )
    return errors


#: The shape the gate computed for the document being validated (so the rule reuses it).
_current_shape: ContextVar[tuple[DocumentNode, DocumentShape] | None] = ContextVar(
    "pgw_document_shape", default=None
)


def shape_of(schema: GraphQLSchema, document: DocumentNode) -> DocumentShape:
    current = _current_shape.get()
    if current is not None and current[0] is document:
        return current[1]
    return document_shape(schema, document)


def document_limits(limits: Limits) -> type[ValidationRule]:
    """A validation rule refusing what ``limits`` forbid (the gate's checks, as a rule)."""

    class DocumentLimits(ValidationRule):
        limits_checked = limits

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for error in refusals(shape_of(context.schema, context.document), limits):
                context.report_error(error)

    return DocumentLimits


def root_field_limit(maximum: int) -> type[ValidationRule]:
    """A rule refusing operations with more than ``maximum`` root fields (after expansion)."""
    return document_limits(Limits(max_root_fields=maximum))


def cost_limit(maximum: int) -> type[ValidationRule]:
    """A rule refusing operations estimated to cost over ``maximum``."""
    return document_limits(Limits(max_cost=maximum))


def gate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: Sequence[type[ASTValidationRule]],
    limits: Limits,
) -> list[GraphQLError]:
    """Validate ``document`` in time linear in its size: the shape first; with a fragment
    cycle, only graphql-core's cycle rule; over a limit, the refusal without graphql-core's
    (quadratic) rules; otherwise the full validation with ``rules``."""
    from strawberry.schema.schema import validate_document

    shape = document_shape(schema, document)
    if shape.fragment_cycle:
        return validate(schema, document, [NoFragmentCyclesRule])
    refused = refusals(shape, limits)
    if refused:
        return refused
    token = _current_shape.set((document, shape))
    try:
        return validate_document(schema, document, tuple(rules))
    finally:
        _current_shape.reset(token)


class DocumentGate(SchemaExtension):
    """Strawberry's validation step through ``gate``, with an LRU of results by query text
    (it replaces ``ValidationCache``, which would validate before any limit is checked)."""

    def __init__(self, limits: Limits, cache: OrderedDict[Any, list[GraphQLError]]) -> None:
        super().__init__()
        self.limits = limits
        self.cache = cache

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        rules = tuple(context.validation_rules)
        key = (context.query, rules) if context.query else None
        errors = self.cache.get(key) if key is not None else None
        if errors is None:
            errors = gate(context.schema._schema, document, rules, self.limits)
            if key is not None:
                self.cache[key] = errors
                if len(self.cache) > 512:
                    self.cache.popitem(last=False)
        elif key is not None:
            self.cache.move_to_end(key)
        context.pre_execution_errors = list(errors)
        yield


def limit_extensions(limits: Limits) -> list[Any]:
    """Extension factories enforcing ``limits`` (fresh instances per request).

    The validation rules are built once: validation results are cached by the rule
    classes, so rules made anew for every request would never let the cache hit.
    """
    rules: list[type[ASTValidationRule]] = []
    if not limits.introspection:
        rules += DisableIntrospection().validation_rules
    rules.append(document_limits(limits))
    cache: OrderedDict[Any, list[GraphQLError]] = OrderedDict()
    return [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: DocumentGate(limits, cache),
    ]


__all__ = [
    "DocumentGate",
    "Limits",
    "cost_limit",
    "document_limits",
    "gate",
    "limit_extensions",
    "refusals",
    "root_field_limit",
]
