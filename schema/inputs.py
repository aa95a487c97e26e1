"""GraphQL input types of the v1 API."""

from __future__ import annotations

import strawberry


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
