"""Hypothesis strategy: random query documents over the real schema.

Random subsets of each type's fields in random order, aliases, repeated fields (merged),
``__typename``, inline fragments (with and without a type condition, on the ``Section``
interface and on concrete types, including a concrete type's interface), named fragments
(new and reused), and ``@include``/``@skip`` with literal or variable conditions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    get_named_type,
    is_abstract_type,
    is_composite_type,
    is_object_type,
)
from hypothesis import strategies as st

from tests.compiled.support import HELSINKI, SCHEMA

ROOTS: dict[str, tuple[str, str]] = {
    # root field -> (arguments with $loc, arguments with a literal location)
    "discovery": ("location: $loc", "location: {lat: 60.1699, lon: 24.9384}"),
    "category": (
        'slug: "pizza", location: $loc, first: 5',
        'slug: "pizza", location: {lat: 60.1699, lon: 24.9384}',
    ),
    "venuePage": (
        'venueId: "v03", location: $loc',
        'venueId: "v03", location: {lat: 60.1699, lon: 24.9384}',
    ),
    "cart": (
        'cart: {venueId: "v03", lines: [{itemId: "i031", quantity: 2}]}, location: $loc',
        'cart: {venueId: "v03", lines: [{itemId: "i031", quantity: 2}]}, '
        "location: {lat: 60.1699, lon: 24.9384}",
    ),
}

CONDITIONS = {"c0": "Boolean!", "c1": "Boolean!", "c2": "Boolean = false"}


@dataclass
class Document:
    query: str
    variables: dict[str, Any]
    roots: list[str]


@dataclass
class _Builder:
    draw: st.DrawFn
    fragments: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (type, text)
    used_conditions: set[str] = field(default_factory=set)
    names: itertools.count[int] = field(default_factory=itertools.count)

    def directives(self) -> str:
        choice = self.draw(st.sampled_from(["", "", "", "include", "skip", "both"]))
        if not choice:
            return ""
        out = []
        for name in ("skip", "include") if choice == "both" else (choice,):
            value = self.draw(st.sampled_from(["true", "false", "$c0", "$c1", "$c2"]))
            if value.startswith("$"):
                self.used_conditions.add(value[1:])
            out.append(f" @{name}(if: {value})")
        return "".join(out)

    def conditions_for(self, type_: Any) -> list[Any]:
        """Type conditions a fragment inside a selection on ``type_`` may use."""
        if is_abstract_type(type_):
            return [type_, *SCHEMA.get_possible_types(type_)]
        assert isinstance(type_, GraphQLObjectType)
        return [type_, *type_.interfaces]

    def selection_set(self, type_: GraphQLObjectType | GraphQLInterfaceType, depth: int) -> str:
        count = self.draw(st.integers(1, 5))
        parts = [self.selection(type_, depth) for _ in range(count)]
        return "{ " + " ".join(parts) + " }"

    def selection(self, type_: GraphQLObjectType | GraphQLInterfaceType, depth: int) -> str:
        kinds = ["field", "field", "field", "field", "typename"]
        if depth < 5:
            kinds += ["inline", "spread"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "typename":
            alias = self.draw(st.sampled_from(["", f"t{next(self.names)}: "]))
            return f"{alias}__typename{self.directives()}"
        if kind == "field":
            name = self.draw(st.sampled_from(sorted(type_.fields)))
            alias = self.draw(st.sampled_from(["", "", f"a{next(self.names)}: "]))
            text = f"{alias}{name}{self.directives()}"
            inner = get_named_type(type_.fields[name].type)
            if is_composite_type(inner):
                text += " " + self.selection_set(inner, depth + 1)  # type: ignore[arg-type]
            return text
        condition = self.draw(st.sampled_from(self.conditions_for(type_)))
        if kind == "inline":
            on = self.draw(st.sampled_from(["", f"on {condition.name} "]))
            body = self.selection_set(condition if on else type_, depth + 1)
            return f"... {on}{self.directives().strip()} {body}".replace("  ", " ")
        reusable = [n for n, (on, text) in self.fragments.items() if on == condition.name and text]
        if reusable and self.draw(st.booleans()):
            name = self.draw(st.sampled_from(reusable))
        else:
            name = f"F{next(self.names)}"
            self.fragments[name] = (condition.name, "")  # reserve (no self-reference)
            body = self.selection_set(condition, depth + 1)
            self.fragments[name] = (condition.name, f"fragment {name} on {condition.name} {body}")
        return f"...{name}{self.directives()}"


@st.composite
def documents(draw: st.DrawFn) -> Document:
    builder = _Builder(draw)
    roots = draw(st.lists(st.sampled_from(sorted(ROOTS)), min_size=1, max_size=2))
    uses_loc = False
    selections = []
    query_type = SCHEMA.query_type
    assert query_type is not None
    for index, root in enumerate(roots):
        with_variable, literal = ROOTS[root]
        use_variable = draw(st.booleans())
        uses_loc |= use_variable
        alias = f"r{index}: " if len(roots) > 1 else draw(st.sampled_from(["", "page: "]))
        page_type = get_named_type(query_type.fields[root].type)
        assert is_object_type(page_type)
        body = builder.selection_set(page_type, 1)  # type: ignore[arg-type]
        args = with_variable if use_variable else literal
        selections.append(f"{alias}{root}({args}) {body}")
    if draw(st.booleans()):
        selections.insert(draw(st.integers(0, len(selections))), "__typename")
    definitions = []
    if uses_loc:
        definitions.append("$loc: LocationInput!")
    variables: dict[str, Any] = {"loc": HELSINKI} if uses_loc else {}
    for name in sorted(builder.used_conditions):
        definitions.append(f"${name}: {CONDITIONS[name]}")
        if name != "c2" or draw(st.booleans()):
            variables[name] = draw(st.booleans())
    header = "query Generated" + (f"({', '.join(definitions)})" if definitions else "")
    fragments = "\n".join(text for _, text in builder.fragments.values())
    query = f"{header} {{ {' '.join(selections)} }}\n{fragments}"
    return Document(query, variables, roots)
