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
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
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
    max_cost: int = 25_000
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


# How many elements a list field holds at most: from the surface plans (section limits)
# and the schema's own bounds; ``first`` arguments count as given (or their maximum).
LIST_SIZES: dict[str, int] = {
    "sections": 10,
    "venues": 20,
    "items": 20,
    "categories": 30,
    "banners": 10,
    "brands": 20,
    "tags": 10,
}
DEFAULT_LIST_SIZE = 20
ROOT_FIELD_COST = 100  # a root field is a page build: a fan-out to the backends


def _first(field: FieldNode, variables_max: int) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value == "first":
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            return variables_max  # a variable: assume the most it may be
    return None


def cost_limit(maximum: int, max_first: int = 50) -> type[ValidationRule]:
    """A rule estimating each operation's cost: one per field, multiplied by the sizes of
    the lists it sits in, plus a fixed cost per root field; over ``maximum`` is refused."""

    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            schema = self.context.schema
            root = schema.get_root_type(node.operation)
            if root is None:
                return
            cost = self._selection_cost(node.selection_set, root, 1, depth=0)
            if cost > maximum:
                self.report_error(
                    GraphQLError(
                        f"This operation is estimated to cost {cost}, over the limit of "
                        f"{maximum}; ask for fewer fields or smaller lists.",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX"},
                    )
                )

        def _selection_cost(
            self,
            selection_set: SelectionSetNode | None,
            parent: Any,
            multiplier: int,
            depth: int,
        ) -> int:
            if selection_set is None or depth > 50:
                return 0
            total = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    total += self._field_cost(selection, parent, multiplier, depth)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    target = (
                        self.context.schema.get_type(condition.name.value) if condition else parent
                    )
                    total += self._selection_cost(
                        selection.selection_set, target, multiplier, depth + 1
                    )
                elif isinstance(selection, FragmentSpreadNode):
                    fragment = self.context.get_fragment(selection.name.value)
                    if fragment is not None:
                        target = self.context.schema.get_type(fragment.type_condition.name.value)
                        total += self._selection_cost(
                            fragment.selection_set, target, multiplier, depth + 1
                        )
            return total

        def _field_cost(self, field: FieldNode, parent: Any, multiplier: int, depth: int) -> int:
            name = field.name.value
            fields = getattr(parent, "fields", None) or {}
            definition = fields.get(name)
            if definition is None:
                return multiplier
            cost = multiplier + (ROOT_FIELD_COST if depth == 0 else 0)
            inner = multiplier
            field_type = definition.type
            while isinstance(field_type, GraphQLNonNull | GraphQLList):
                if isinstance(field_type, GraphQLList):
                    inner *= LIST_SIZES.get(name, DEFAULT_LIST_SIZE)
                field_type = field_type.of_type
            if name == "edges":
                inner = multiplier * self._connection_size
            first = _first(field, max_first)
            if first is not None:
                self._connection_size = max(first, 0)
            return cost + self._selection_cost(field.selection_set, field_type, inner, depth + 1)

        _connection_size = DEFAULT_LIST_SIZE

    return CostLimit


def limit_extensions(limits: Limits) -> list[Any]:
    """Extension factories enforcing ``limits`` (fresh instances per request).

    The validation rules are built once: Strawberry's validation cache is keyed by the rule
    classes, so rules made anew for every request would never let it hit.
    """
    limiters: list[AddValidationRules] = [
        QueryDepthLimiter(max_depth=limits.max_depth),
        MaxAliasesLimiter(max_alias_count=limits.max_aliases),
    ]
    if not limits.introspection:
        limiters.append(DisableIntrospection())
    rules = [rule for limiter in limiters for rule in limiter.validation_rules]
    rules += [root_field_limit(limits.max_root_fields), cost_limit(limits.max_cost)]
    return [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(rules),
    ]


__all__ = ["Limits", "ValidationContext", "cost_limit", "limit_extensions", "root_field_limit"]
