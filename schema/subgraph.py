"""The Federation 2 subgraph: the client schema's types, with ``@key`` on Venue, Item, Brand.

``schema/schema.graphql`` stays the plain client-facing schema (no federation directives, no
``_entities``); a supergraph gets this second schema, served on its own route when
``PGW_FEDERATION`` is on, and exported beside the first as ``schema/subgraph.graphql``.

The entity types subclass the client types, so every field added to the client schema is in
the subgraph too; only the types that reach an entity (carousels, pages, the connection, the
root) are declared again to point at the keyed types. Building both schemas in the test suite
catches a type that reaches an entity and was not declared here (two types of one name).
(The ``type: ignore[assignment]`` on list fields: mypy holds ``list`` invariant, while the
values are the same page objects either way; only the GraphQL type differs.)

``_entities`` is resolved in one catalog batch per kind for the whole list of representations
(``resolvers/references.py``), not one lookup per representation.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.annotation import StrawberryAnnotation
from strawberry.federation import Schema as FederationSchema
from strawberry.federation.schema import FederationAny
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from resolvers.references import EntityKind
from schema import types as client
from schema.context import GatewayContext
from schema.mutation import Mutation
from schema.query import Query

SUBGRAPH_SDL_PATH = Path(__file__).with_name("subgraph.graphql")

FEDERATION_VERSION = "2.5"
"""The Federation 2 version the subgraph links: what Hive Gateway and Apollo Router compose."""


def _description(cls: type[Any], field_name: str | None = None) -> str | None:
    """The client type's (or one of its fields') description, so the subgraph says the same."""
    definition = get_object_definition(cls, strict=True)
    if field_name is None:
        return definition.description
    return next(f.description for f in definition.fields if f.python_name == field_name)


@strawberry.federation.type(keys=["id"], name="Brand", description=_description(client.Brand))
class Brand(client.Brand):
    pass


@strawberry.federation.type(keys=["id"], name="Venue", description=_description(client.Venue))
class Venue(client.Venue):
    brand: Brand | None = strawberry.field(description=_description(client.Venue, "brand"))


@strawberry.federation.type(keys=["id"], name="Item", description=_description(client.Item))
class Item(client.Item):
    pass


@strawberry.type(name="VenueCarousel", description=_description(client.VenueCarousel))
class VenueCarousel(client.VenueCarousel):
    venues: list[Venue] = strawberry.field(  # type: ignore[assignment]
        description=_description(client.VenueCarousel, "venues")
    )


@strawberry.type(name="ItemCarousel", description=_description(client.ItemCarousel))
class ItemCarousel(client.ItemCarousel):
    items: list[Item] = strawberry.field(  # type: ignore[assignment]
        description=_description(client.ItemCarousel, "items")
    )


@strawberry.type(name="BrandCarousel", description=_description(client.BrandCarousel))
class BrandCarousel(client.BrandCarousel):
    brands: list[Brand] = strawberry.field(  # type: ignore[assignment]
        description=_description(client.BrandCarousel, "brands")
    )


@strawberry.type(name="VenuePage", description=_description(client.VenuePage))
class VenuePage(client.VenuePage):
    venue: Venue | None = strawberry.field(description=_description(client.VenuePage, "venue"))


@strawberry.type(name="VenueEdge", description=_description(client.VenueEdge))
class VenueEdge(client.VenueEdge):
    node: Venue = strawberry.field(description=_description(client.VenueEdge, "node"))


@strawberry.type(name="VenueConnection", description=_description(client.VenueConnection))
class VenueConnection(client.VenueConnection):
    edges: list[VenueEdge] = strawberry.field(  # type: ignore[assignment]
        description=_description(client.VenueConnection, "edges")
    )


@strawberry.type(name="CategoryPage", description=_description(client.CategoryPage))
class CategoryPage(client.CategoryPage):
    venues: VenueConnection = strawberry.field(
        description=_description(client.CategoryPage, "venues")
    )


SECTION_IMPLEMENTATIONS = [
    VenueCarousel,
    ItemCarousel,
    client.CategoryTiles,
    client.BannerCarousel,
    BrandCarousel,
]

_RETYPED: dict[str, type[Any]] = {"venue_page": VenuePage, "category": CategoryPage}


def _retyped(field: StrawberryField) -> StrawberryField:
    """The root field as it is, answering with the subgraph's page type where it has one."""
    target = _RETYPED.get(field.python_name)
    if target is None:
        return field
    retyped = copy.copy(field)
    retyped.type_annotation = StrawberryAnnotation(target)
    return retyped


def _subgraph_query() -> type[Any]:
    """The client root, field for field (same resolvers), with the subgraph's page types."""
    from strawberry.tools.create_type import create_type

    definition = get_object_definition(Query, strict=True)
    return create_type(
        "Query",
        [_retyped(f) for f in definition.fields],
        description=definition.description,
    )


class SubgraphSchema(FederationSchema):
    """Strawberry's federation schema with ``_entities`` batched per kind and its errors
    coded like every other error of the gateway."""

    def __init__(self, *args: Any, error_processor: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._error_processor = error_processor

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        if self._error_processor is not None:
            self._error_processor(errors, execution_context)
        else:
            super().process_errors(errors, execution_context)

    async def entities_resolver(  # type: ignore[override]
        self, info: Info[GatewayContext, None], representations: list[FederationAny]
    ) -> list[FederationAny]:
        """Every representation answered from one catalog batch per kind, in order; an
        unknown id is null, a kind the catalog cannot answer is an error per entity."""
        wanted: dict[EntityKind, list[str]] = {}
        keys: list[tuple[EntityKind, str] | GraphQLError] = []
        for representation in representations:
            keys.append(_key(representation))
        for key in keys:
            if not isinstance(key, GraphQLError):
                wanted.setdefault(key[0], []).append(key[1])
        ctx = info.context
        references = ctx.surfaces.references
        kinds = list(wanted)
        answers = await asyncio.gather(
            *(references.resolve(kind, wanted[kind], ctx.scope) for kind in kinds)
        )
        by_kind = dict(zip(kinds, answers, strict=True))
        results: list[Any] = []
        for key in keys:
            if isinstance(key, GraphQLError):
                results.append(key)
                continue
            answer = by_kind[key[0]]
            if isinstance(answer, Exception):
                results.append(
                    GraphQLError(
                        f"The catalog could not resolve this {key[0].value} now.",
                        extensions={"code": "BACKEND_UNAVAILABLE"},
                    )
                )
            else:
                results.append(answer.get(key[1]))
        return results


def _key(representation: Any) -> tuple[EntityKind, str] | GraphQLError:
    """``(kind, id)`` of one representation, or the coded error saying what is wrong with it."""
    if not isinstance(representation, dict):
        return GraphQLError("A representation must be an object.", extensions=_BAD)
    try:
        kind = EntityKind(representation.get("__typename"))
    except ValueError:
        return GraphQLError(
            f"No entity type {representation.get('__typename')!r} in this subgraph.",
            extensions=_BAD,
        )
    entity_id = representation.get("id")
    if not isinstance(entity_id, str | int) or isinstance(entity_id, bool):
        return GraphQLError(f"A {kind.value} reference needs its 'id'.", extensions=_BAD)
    return kind, str(entity_id)


_BAD = {"code": "BAD_USER_INPUT"}


def build_subgraph_schema(
    extensions: Sequence[Any] = (), *, error_processor: Any = None
) -> SubgraphSchema:
    """The subgraph's executable schema with the given extensions."""
    return SubgraphSchema(
        query=_subgraph_query(),
        mutation=Mutation,
        types=SECTION_IMPLEMENTATIONS,
        extensions=list(extensions),
        federation_version=FEDERATION_VERSION,
        error_processor=error_processor,
    )


def export_subgraph_sdl() -> str:
    """The subgraph's SDL as committed in ``schema/subgraph.graphql``."""
    return str(build_subgraph_schema().as_str()) + "\n"
