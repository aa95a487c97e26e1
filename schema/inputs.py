"""GraphQL input types of the v1 API."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.events import EventKind


@strawberry.input(description="A WGS84 point: where the customer wants delivery.")
class LocationInput:
    lat: float = strawberry.field(description="Latitude, -90 to 90.")
    lon: float = strawberry.field(description="Longitude, -180 to 180.")


@strawberry.input(description="One line of a cart.")
class CartLineInput:
    item_id: strawberry.ID = strawberry.field(description="The item's id.")
    quantity: int = strawberry.field(description="How many; at least 1.")


@strawberry.input(description="The customer's current cart, all from one venue.")
class CartInput:
    venue_id: strawberry.ID = strawberry.field(description="The venue the cart is from.")
    lines: list[CartLineInput] = strawberry.field(description="The cart's lines; at least one.")


strawberry.enum(
    EventKind,
    name="EventKind",
    description="What the viewer did with an entity of a section.",
)


@strawberry.input(description="One thing the viewer did with an entity of a section.")
class EventInput:
    kind: EventKind = strawberry.field(description="What happened.")
    tracking_id: strawberry.ID = strawberry.field(
        description="The trackingId of the section the entity was shown in."
    )
    entity_id: strawberry.ID = strawberry.field(description="The entity's id (a category's slug).")
    position: int | None = strawberry.field(
        default=None, description="The entity's 0-based position in the section, if known."
    )
    occurred_at: datetime | None = strawberry.field(
        default=None, description="When it happened (ISO 8601 with offset); now if omitted."
    )
