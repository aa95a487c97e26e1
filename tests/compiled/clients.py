"""The documents clients really send, made from the shipped ones.

- ``apollo_typename``: what Apollo Client's ``addTypenameToDocument`` (and Apollo Kotlin's
  ``addTypename``) does before sending — ``__typename`` appended to every selection set that
  does not already select it, except the operation's root selection set.
- ``client_spelling``: an app's own version of a shipped document — its own fragment names,
  aliases on some fields (chosen by ``alias``), and other whitespace.
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    print_ast,
)


def _typename_added(selection_set: SelectionSetNode | None, root: bool) -> SelectionSetNode | None:
    if selection_set is None:
        return None
    selections = []
    for selection in selection_set.selections:
        inner = getattr(selection, "selection_set", None)
        if inner is not None:
            selection = type(selection)(
                **{
                    **{k: getattr(selection, k) for k in selection.keys if k != "loc"},
                    "selection_set": _typename_added(inner, root=False),
                }
            )
        selections.append(selection)
    has_typename = any(
        isinstance(s, FieldNode) and s.name.value == "__typename" and s.alias is None
        for s in selections
    )
    if not root and not has_typename:
        selections.append(FieldNode(name=NameNode(value="__typename")))
    return SelectionSetNode(selections=tuple(selections))


def apollo_typename(text: str) -> str:
    """``text`` as Apollo Client sends it by default."""
    document = parse(text, no_location=True)
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            definition = OperationDefinitionNode(
                operation=definition.operation,
                name=definition.name,
                variable_definitions=definition.variable_definitions,
                directives=definition.directives,
                selection_set=_typename_added(definition.selection_set, root=True),
            )
        elif isinstance(definition, FragmentDefinitionNode):
            definition = FragmentDefinitionNode(
                name=definition.name,
                type_condition=definition.type_condition,
                variable_definitions=definition.variable_definitions,
                directives=definition.directives,
                selection_set=_typename_added(definition.selection_set, root=False),
            )
        definitions.append(definition)
    return print_ast(DocumentNode(definitions=tuple(definitions)))


def _respelled(
    selection_set: SelectionSetNode | None, alias: Callable[[str], str | None]
) -> SelectionSetNode | None:
    if selection_set is None:
        return None
    selections = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = alias(selection.name.value) if selection.alias is None else None
            selection = FieldNode(
                alias=NameNode(value=name) if name else selection.alias,
                name=selection.name,
                arguments=selection.arguments,
                directives=selection.directives,
                selection_set=_respelled(selection.selection_set, alias),
            )
        elif isinstance(selection, FragmentSpreadNode):
            selection = FragmentSpreadNode(
                name=NameNode(value=f"App{selection.name.value}"), directives=selection.directives
            )
        else:
            selection = type(selection)(
                type_condition=selection.type_condition,  # type: ignore[attr-defined]
                directives=selection.directives,
                selection_set=_respelled(selection.selection_set, alias),
            )
        selections.append(selection)
    return SelectionSetNode(selections=tuple(selections))


def client_spelling(text: str, alias: Callable[[str], str | None]) -> str:
    """``text`` with its fragments renamed ``App…``, fields aliased where ``alias(field)``
    gives a name, and compact whitespace (the selections themselves unchanged)."""
    document = parse(text, no_location=True)
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            definition = OperationDefinitionNode(
                operation=definition.operation,
                name=NameNode(value="AppHome"),
                variable_definitions=definition.variable_definitions,
                directives=definition.directives,
                selection_set=_respelled(definition.selection_set, alias),
            )
        elif isinstance(definition, FragmentDefinitionNode):
            definition = FragmentDefinitionNode(
                name=NameNode(value=f"App{definition.name.value}"),
                type_condition=definition.type_condition,
                directives=definition.directives,
                selection_set=_respelled(definition.selection_set, alias),
            )
        definitions.append(definition)
    printed = print_ast(DocumentNode(definitions=tuple(definitions)))
    return " ".join(printed.split())
