"""What a query document means, independent of how a client spelled it.

Clients rarely send the shipped bytes: Apollo Client and Apollo Kotlin add ``__typename`` to
every selection set, apps write their own fragments (named as they like) and aliases, and
code generators reformat. ``meaning_of`` reduces a parsed document to the one operation it
runs, with

- whitespace, commas and comments gone (``print_ast``),
- every named fragment spread replaced by the fragment's selections (an inline fragment on
  its type condition, the spread's directives kept), the definitions themselves dropped,
- every ``__typename`` selection dropped (the compiled projector still answers it: it is
  generated from the client's own selections; only the *key* ignores it),
- aliases dropped (the field, its arguments and directives are the meaning).

Two documents with the same meaning fetch the same data from the same root resolvers, so
they share one hotness count (``gateway.compiled.serving``): a client's variant of a shipped
or already hot document is compiled on sight. The key never decides a response — every
document is still validated and compiled from its own text — so a mistake here can only
cost a compilation, never change an answer.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    print_ast,
)

# Fragments nested deeper than this are not inlined (validation refuses cycles anyway),
# and no key is made of a document whose inlined form exceeds this many selections (a few
# fragments each spread twice in the next would otherwise grow it exponentially).
_MAX_FRAGMENT_DEPTH = 32
_MAX_SELECTIONS = 20_000


class _NoMeaning(Exception):
    """The document is not one the key can be computed for (it will fail validation)."""


def meaning_of(document: DocumentNode, operation_name: str | None) -> str | None:
    """The canonical text of ``document``'s selected operation, or None when there is no
    such single operation or a fragment is missing or cyclic."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) != 1:
            return None
        operation = operations[0]
    else:
        matching = [o for o in operations if o.name and o.name.value == operation_name]
        if len(matching) != 1:
            return None
        operation = matching[0]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    try:
        selections = _normalise(operation.selection_set, fragments, (), [_MAX_SELECTIONS])
    except _NoMeaning:
        return None
    canonical = OperationDefinitionNode(
        operation=operation.operation,
        name=None,
        variable_definitions=operation.variable_definitions,
        directives=operation.directives,
        selection_set=selections,
    )
    return print_ast(canonical)


def _normalise(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    stack: tuple[str, ...],
    budget: list[int],
) -> SelectionSetNode:
    out: list[SelectionNode] = []
    budget[0] -= len(selection_set.selections)
    if budget[0] < 0:
        raise _NoMeaning("too large")
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == "__typename":
                continue
            out.append(
                FieldNode(
                    alias=None,
                    name=selection.name,
                    arguments=selection.arguments,
                    directives=selection.directives,
                    selection_set=None
                    if selection.selection_set is None
                    else _normalise(selection.selection_set, fragments, stack, budget),
                )
            )
        elif isinstance(selection, InlineFragmentNode):
            out.append(
                InlineFragmentNode(
                    type_condition=selection.type_condition,
                    directives=selection.directives,
                    selection_set=_normalise(selection.selection_set, fragments, stack, budget),
                )
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in stack or len(stack) >= _MAX_FRAGMENT_DEPTH:
                raise _NoMeaning(name)
            out.append(
                InlineFragmentNode(
                    type_condition=NamedTypeNode(
                        name=NameNode(value=fragment.type_condition.name.value)
                    ),
                    directives=selection.directives,
                    selection_set=_normalise(
                        fragment.selection_set, fragments, (*stack, name), budget
                    ),
                )
            )
    return SelectionSetNode(selections=tuple(out))
