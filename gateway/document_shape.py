"""The shape of a GraphQL document, computed once, in time linear in its size.

Every limit the gateway enforces (root fields, cost, depth, aliases, directives, how many
field comparisons graphql-core's overlap rule would make) is read from one
``DocumentShape``. It is computed by one pass over the document in which each fragment
definition is walked exactly once: fragments are summarised in dependency order (the
fragments a fragment spreads are summarised first) and a spread only combines the summary
of the fragment it names. A document that spreads a fragment into itself, or a chain of
fragments that each spread the next twice, therefore costs one walk, not an exponential
one; a fragment cycle is recorded (``fragment_cycle``) and the limits are skipped, because
graphql-core's ``NoFragmentCyclesRule`` refuses the document anyway.

Root fields and costs count what executes: fields reached through named and inline
fragments at the root are root fields (each distinct response key once, as the executor
merges them), and each costs a page build.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
)

# How many elements a list field holds at most: from the surface plans (section limits)
# and the schema's own bounds; ``first`` arguments count as given (or their maximum).
LIST_SIZES: dict[str, int] = {
    "sections": 10,
    "layout": 10,  # a progressive page's slots: one per section (0021)
    "venues": 20,
    "items": 20,
    "categories": 30,
    "banners": 10,
    "brands": 20,
    "tags": 10,
}
DEFAULT_LIST_SIZE = 20
MAX_FIRST = 50
ROOT_FIELD_COST = 100  # a root field is a page build: a fan-out to the backends

#: Numbers saturate here, so a fan-out chain's cost stays a small integer.
SATURATED = 10**15
#: Distinct root response keys kept per summary; any limit is far below it.
ROOT_KEYS_KEPT = 64
#: Field nesting walked; deeper documents are over every depth limit anyway.
WALK_DEPTH = 64


def _sat(value: int) -> int:
    return value if value < SATURATED else SATURATED


@dataclass(slots=True)
class _Summary:
    """What a selection set (or a fragment) contributes where it is used.

    ``cost`` is ``cost_fixed + cost_per_edge * n`` per unit multiplier, where ``n`` is the
    page size (``first``) of the connection field it sits under: only ``edges`` directly
    inside it depend on ``n``.
    """

    cost_fixed: int = 0
    cost_per_edge: int = 0
    depth: int = -1  # deepest field level below, 0 = its own fields; -1 = no fields
    root_keys: set[str] = field(default_factory=set)

    def add(self, other: _Summary, level: int) -> None:
        self.cost_fixed = _sat(self.cost_fixed + other.cost_fixed)
        self.cost_per_edge = _sat(self.cost_per_edge + other.cost_per_edge)
        if other.depth >= 0:
            self.depth = max(self.depth, level + other.depth)
        if level == 0 and len(self.root_keys) < ROOT_KEYS_KEPT:
            self.root_keys |= other.root_keys


@dataclass(frozen=True, slots=True)
class OperationShape:
    """One operation after fragment expansion."""

    node: OperationDefinitionNode
    root_fields: int  # distinct root response keys, introspection excluded
    cost: int
    depth: int  # deepest field level, root fields = 0 (introspection not followed)


@dataclass(frozen=True, slots=True)
class DocumentShape:
    """The whole document: per-operation figures and as-written counts."""

    operations: tuple[OperationShape, ...]
    fragment_cycle: bool
    directives: int
    repeated_directives: int  # directives repeated on one node (directive overloading)
    aliases: int
    fields: int
    merge_pairs: int  # field/fragment pairs graphql-core's overlap rule compares (estimate)


def _first(node: FieldNode) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value == "first":
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(0, min(int(value.value), MAX_FIRST))
            return MAX_FIRST  # a variable: assume the most it may be
    return None


def _nodes(document: DocumentNode) -> Iterator[Node]:
    """Every selection, directive-bearing node and definition, once, without recursion."""
    stack: list[Node] = list(document.definitions)
    while stack:
        node = stack.pop()
        yield node
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
        for definition in getattr(node, "variable_definitions", None) or ():
            stack.append(definition)


def _spreads(selection_set: SelectionSetNode) -> set[str]:
    """The fragment names spread anywhere in a selection set (iteratively)."""
    names: set[str] = set()
    stack = list(selection_set.selections)
    while stack:
        node = stack.pop()
        if isinstance(node, FragmentSpreadNode):
            names.add(node.name.value)
        elif isinstance(node, FieldNode | InlineFragmentNode) and node.selection_set:
            stack.extend(node.selection_set.selections)
    return names


def _order(fragments: dict[str, FragmentDefinitionNode]) -> tuple[list[str], bool]:
    """Fragment names, each after every fragment it spreads; and whether there is a cycle."""
    edges = {
        name: _spreads(node.selection_set) & fragments.keys() for name, node in fragments.items()
    }
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    cycle = False
    for start in fragments:
        if start in state:
            continue
        state[start] = 1
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(edges[start]))]
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif state.get(child) == 1:
                cycle = True
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(edges[child])))
    return order, cycle


def _merge_pairs(selection_sets: list[SelectionSetNode]) -> int:
    """How many field pairs (and fragment pairs) the overlap rule compares, estimated.

    graphql-core's ``OverlappingFieldsCanBeMergedRule`` compares every pair of fields that
    answer at the same response path (recursively into their sub-selections) and every
    pair of fragments spread into one selection set: quadratic in repetition. Here fields
    are merged into a trie by response key (inline fragments flattened, as the rule does),
    per operation and per fragment, and the pairs are counted per trie node.
    """
    total = 0
    for root in selection_sets:
        # (field count, spread count) per trie node; children keyed by response key
        queue: list[list[SelectionSetNode]] = [[root]]
        while queue:
            sets = queue.pop()
            groups: dict[str, list[SelectionSetNode]] = {}
            counts: dict[str, int] = {}
            spreads = 0
            stack: list[Any] = [s for ss in sets for s in ss.selections]
            while stack:
                node = stack.pop()
                if isinstance(node, FieldNode):
                    key = (node.alias or node.name).value
                    counts[key] = counts.get(key, 0) + 1
                    if node.selection_set is not None:
                        groups.setdefault(key, []).append(node.selection_set)
                elif isinstance(node, InlineFragmentNode):
                    stack.extend(node.selection_set.selections)
                else:
                    spreads += 1
            fields = sum(counts.values())
            total += sum(n * (n - 1) // 2 for n in counts.values())
            total += spreads * (spreads - 1) // 2 + spreads * fields
            if total >= SATURATED:
                return SATURATED
            queue.extend(groups.values())
    return total


class _Walker:
    """Summaries of selection sets against the schema, fragments memoised by name."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]):
        self.schema = schema
        self.fragments = fragments
        self.done: dict[str, _Summary] = {}

    def fragment(self, name: str) -> _Summary:
        summary = self.done.get(name)
        if summary is None:  # only for a cycle's members or unknown names: no contribution
            return _Summary()
        return summary

    def summarise_fragment(self, name: str) -> None:
        node = self.fragments[name]
        target = self.schema.get_type(node.type_condition.name.value)
        self.done[name] = self.selection(node.selection_set, target, 0)

    def selection(self, selection_set: SelectionSetNode, parent: Any, level: int) -> _Summary:
        summary = _Summary()
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                self._field(node, parent, level, summary)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                summary.add(self.selection(node.selection_set, target, level), 0)
            elif isinstance(node, FragmentSpreadNode):
                summary.add(self.fragment(node.name.value), 0)
        return summary

    def _field(self, node: FieldNode, parent: Any, level: int, summary: _Summary) -> None:
        name = node.name.value
        introspection = name.startswith("__")
        summary.depth = max(summary.depth, 0)
        if not introspection and len(summary.root_keys) < ROOT_KEYS_KEPT:
            summary.root_keys.add((node.alias or node.name).value)
        definition = (getattr(parent, "fields", None) or {}).get(name)
        if introspection:  # not followed: introspection is refused, or trusted (development)
            summary.cost_fixed = _sat(summary.cost_fixed + 1)
            return
        # an unknown field (graphql-core refuses it) still counts for depth and size
        field_type = definition.type if definition is not None else None
        inner = 1
        while isinstance(field_type, GraphQLNonNull | GraphQLList):
            if isinstance(field_type, GraphQLList):
                inner *= LIST_SIZES.get(name, DEFAULT_LIST_SIZE)
            field_type = field_type.of_type
        below = 0
        if node.selection_set is not None and level < WALK_DEPTH:
            child = self.selection(node.selection_set, field_type, level + 1)
            first = _first(node)
            size = DEFAULT_LIST_SIZE if first is None else first
            below = _sat(child.cost_fixed + child.cost_per_edge * size)
            if child.depth >= 0:
                summary.depth = max(summary.depth, 1 + child.depth)
        elif node.selection_set is not None:
            summary.depth = max(summary.depth, WALK_DEPTH + 1)
        if name == "edges":
            summary.cost_fixed = _sat(summary.cost_fixed + 1)
            summary.cost_per_edge = _sat(summary.cost_per_edge + below)
        else:
            summary.cost_fixed = _sat(summary.cost_fixed + 1 + inner * below)


def document_shape(schema: GraphQLSchema, document: DocumentNode) -> DocumentShape:
    """The shape of ``document`` (see the module docstring): one linear pass."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
    directives = repeated = aliases = fields = 0
    for node in _nodes(document):
        on_node = [d.name.value for d in getattr(node, "directives", None) or ()]
        directives += len(on_node)
        repeated += len(on_node) - len(set(on_node))
        if isinstance(node, FieldNode):
            fields += 1
            aliases += node.alias is not None
    merge_pairs = _merge_pairs([d.selection_set for d in (*operations, *fragments.values())])
    order, cycle = _order(fragments)
    shapes: list[OperationShape] = []
    if not cycle:
        walker = _Walker(schema, fragments)
        for name in order:
            walker.summarise_fragment(name)
        for operation in operations:
            root = schema.get_root_type(operation.operation)
            summary = walker.selection(operation.selection_set, root, 0)
            cost = _sat(
                summary.cost_fixed
                + summary.cost_per_edge * DEFAULT_LIST_SIZE
                + ROOT_FIELD_COST * len(summary.root_keys)
            )
            shapes.append(
                OperationShape(
                    node=operation,
                    root_fields=len(summary.root_keys),
                    cost=cost,
                    depth=max(summary.depth, 0),
                )
            )
    return DocumentShape(
        operations=tuple(shapes),
        fragment_cycle=cycle,
        directives=directives,
        repeated_directives=repeated,
        aliases=aliases,
        fields=fields,
        merge_pairs=merge_pairs,
    )


__all__ = ["DocumentShape", "OperationShape", "document_shape"]
