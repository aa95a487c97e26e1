"""The reviews subgraph: ``Venue @key(fields: "id")`` with a ``reviews`` summary of its own.

A reference backend for the supergraph tests (decision 0020): the federation router asks the
gateway's subgraph for pages and this one for each venue's reviews, by key, in one
``_entities`` call. Its figures are a pure function of the venue id, so a test can predict
them; it also records the headers of the last ``_entities`` call it answered, so a test can
see what the router sends its subgraphs.
"""

from __future__ import annotations

import hashlib

import strawberry
from fastapi import FastAPI, Request
from strawberry.asgi import GraphQL

SDL_NAME = "reviews"


@strawberry.type(description="What customers said about a venue, in short.")
class ReviewSummary:
    count: int = strawberry.field(description="How many reviews the venue has.")
    average: float = strawberry.field(description="Their average score, 1 to 5.")
    headline: str = strawberry.field(description="A quote from the most helpful review.")


def summary_of(venue_id: str) -> ReviewSummary:
    """The venue's summary: a pure function of its id (tests predict it)."""
    digest = hashlib.sha256(venue_id.encode()).digest()
    count = 3 + digest[0] % 400
    average = round(1 + (digest[1] / 255) * 4, 1)
    return ReviewSummary(count=count, average=average, headline=f"Worth the trip ({venue_id})")


@strawberry.federation.type(keys=["id"], description="A venue, owned by the gateway.")
class Venue:
    id: strawberry.ID = strawberry.field(description="The venue's id (its key).")

    @strawberry.field(description="What customers said about the venue.")
    def reviews(self) -> ReviewSummary:
        return summary_of(str(self.id))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Venue:
        return cls(id=id)


@strawberry.type(description="The reviews subgraph's own root.")
class Query:
    @strawberry.field(description="A venue's reviews by its id.")
    def venue_reviews(self, venue_id: strawberry.ID) -> ReviewSummary:
        return summary_of(str(venue_id))


schema = strawberry.federation.Schema(query=Query, types=[Venue], federation_version="2.5")


class _Recording(GraphQL[None, None]):
    """Strawberry's ASGI view, keeping the headers of the last request it answered."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(schema)
        self._app = app

    async def get_context(self, request: Request, response: object) -> dict[str, object]:  # type: ignore[override]
        self._app.state.last_headers = dict(request.headers)
        return {"request": request, "response": response}


def create_app() -> FastAPI:
    """The app: ``POST /graphql`` (the subgraph), ``GET /healthz``, ``GET /_last_headers``."""
    app = FastAPI(title="reviews (reference subgraph)", docs_url=None, redoc_url=None)
    app.state.last_headers = {}
    app.add_route("/graphql", _Recording(app), methods=["GET", "POST"])

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_last_headers")
    async def last_headers() -> dict[str, str]:
        return dict(app.state.last_headers)

    return app


def export_sdl() -> str:
    """The subgraph's SDL (what ``_service { sdl }`` answers)."""
    return str(schema.as_str()) + "\n"
