"""The subgraph composes into a Federation 2 supergraph (``@theguild/federation-composition``,
a real composition library from the npm registry, run by ``tests/node/compose.mjs``)."""

from __future__ import annotations

from pathlib import Path

from backends.reviews.app import export_sdl as reviews_sdl
from schema.subgraph import SUBGRAPH_SDL_PATH
from tests.node_tools import run_json


def test_the_gateway_subgraph_composes_with_the_reviews_subgraph(tmp_path: Path) -> None:
    reviews = tmp_path / "reviews.graphql"
    reviews.write_text(reviews_sdl(), encoding="utf-8")
    out = tmp_path / "supergraph.graphql"
    code, result = run_json(
        "compose.mjs", f"pgw={SUBGRAPH_SDL_PATH}", f"reviews={reviews}", "--out", str(out)
    )
    assert code == 0, result
    assert result["ok"] is True
    supergraph = out.read_text(encoding="utf-8")
    # Venue is one entity owned by both graphs; the page roots come from the gateway only
    venue = 'type Venue @join__type(graph: PGW, key: "id") @join__type(graph: REVIEWS, key: "id")'
    assert venue in supergraph
    assert "reviews: ReviewSummary! @join__field(graph: REVIEWS)" in supergraph
    assert "discovery(" in supergraph
    assert 'type Item @join__type(graph: PGW, key: "id")' in supergraph
    assert 'type Brand @join__type(graph: PGW, key: "id")' in supergraph


def test_a_subgraph_that_disagrees_on_the_key_does_not_compose(tmp_path: Path) -> None:
    """The check can fail: a second subgraph typing Venue.id as Int breaks composition."""
    clash = tmp_path / "clash.graphql"
    clash.write_text(
        reviews_sdl().replace('"""The venue\'s id (its key)."""\n  id: ID!', "id: Int!"),
        encoding="utf-8",
    )
    assert "id: Int!" in clash.read_text(encoding="utf-8")
    code, result = run_json("compose.mjs", f"pgw={SUBGRAPH_SDL_PATH}", f"clash={clash}")
    assert code == 1
    assert result["ok"] is False
    assert any("Venue.id" in error for error in result["errors"]), result
