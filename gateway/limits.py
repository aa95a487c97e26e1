"""Query limits: what one GraphQL request may ask of the gateway.

Every root field is a whole page build (a fan-out to five backends), so the expensive
shapes are many root fields (aliases of ``discovery``), deep or long documents and
introspection by strangers. Lists below the root are bounded by the surface plans and by
``first`` (≤ ``max_first``), so a depth limit plus a root-field limit bound a request's cost.
Defaults leave the shipped client operations ample room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits (``PGW_MAX_*`` settings)."""

    max_depth: int = 12
    max_aliases: int = 20
    max_tokens: int = 4000
    max_root_fields: int = 4
    introspection: bool = False


def root_field_limit(maximum: int) -> type[ValidationRule]:
    """A rule refusing operations that select more than ``maximum`` root fields."""

    class RootFieldLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            fields = [
                s
                for s in node.selection_set.selections
                if isinstance(s, FieldNode) and not s.name.value.startswith("__")
            ]
            if len(fields) > maximum:
                self.report_error(
                    GraphQLError(
                        f"An operation may select at most {maximum} surfaces (root fields); "
                        f"this one selects {len(fields)}.",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX"},
                    )
                )

    return RootFieldLimit


def limit_extensions(limits: Limits) -> list[Any]:
    """Extension factories enforcing ``limits`` (fresh instances per request)."""
    factories: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules([root_field_limit(limits.max_root_fields)]),
    ]
    if not limits.introspection:
        factories.append(DisableIntrospection)
    return factories


__all__ = ["Limits", "ValidationContext", "limit_extensions", "root_field_limit"]
