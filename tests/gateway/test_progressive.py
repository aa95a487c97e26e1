"""Progressive Discovery pages (decision 0021): the instant sections first, the personalised
ones in later payloads of a ``multipart/mixed`` response, under the same deadline."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from gateway.compiled.serving import CompiledPath
from tests.gateway.conftest import HELSINKI, GatewayFactory

SECTION = """
  __typename id source trackingId
  ... on VenueCarousel { venues { id } }
  ... on ItemCarousel { items { id } }
  ... on CategoryTiles { categories { slug } }
  ... on BannerCarousel { banners { id } }
  ... on BrandCarousel { brands { id } }
"""
PROGRESSIVE = f"""
query Progressive($loc: LocationInput!) {{
  discovery(location: $loc) {{
    requestId
    layout {{
      id
      instant {{ {SECTION} }}
      ... @defer(label: "personalised") {{ personalised {{ {SECTION} }} }}
    }}
  }}
}}
"""
ACCEPT = "multipart/mixed;incrementalSpec=v0.2, application/json"


def payloads(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON payloads of a ``multipart/mixed`` incremental response, in order."""
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/mixed"), content_type
    boundary = content_type.split("boundary=", 1)[1].strip('"')
    out = []
    for part in response.content.split(f"--{boundary}".encode()):
        head, _, body = part.partition(b"\r\n\r\n")
        if b"application/json" in head and body.strip():
            out.append(orjson.loads(body.strip()))
    return out


def assemble(parts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The first payload's layout, and each slot's deferred ``personalised`` by slot id."""
    layout = parts[0]["data"]["discovery"]["layout"]
    later: dict[str, Any] = {}
    for part in parts[1:]:
        for increment in part.get("incremental", []):
            index = increment["path"][-1]
            later[layout[index]["id"]] = increment["data"]["personalised"]
    return layout, later


async def _progressive(gw: Any, user: str = "u-progressive") -> httpx.Response:
    return await gw.query(PROGRESSIVE, {"loc": HELSINKI}, user=user, headers={"Accept": ACCEPT})


async def test_instant_sections_first_and_personalised_ones_later(
    make_gateway: GatewayFactory,
) -> None:
    slow_ranking = {"ranking": {"timeout_s": 2.0}}
    async with make_gateway(budget_ms=3000, backends=slow_ranking) as gw:
        gw.fakes.delay(0.15, "ranking")
        response = await _progressive(gw)
    assert response.status_code == 200
    parts = payloads(response)
    assert len(parts) >= 2
    first = parts[0]
    assert first["hasNext"] is True
    assert "errors" not in first, first
    assert parts[-1]["hasNext"] is False
    layout, later = assemble(parts)
    instant = {slot["id"]: slot["instant"] for slot in layout if slot["instant"]}
    assert set(instant) == {"popular_near_you", "banners"}
    assert instant["popular_near_you"]["source"] == "POPULAR"
    assert all("personalised" not in slot for slot in layout)  # deferred, not in the first
    personalised = {k: v for k, v in later.items() if v is not None}
    assert "for_you" in personalised
    assert personalised["for_you"]["source"] == "PERSONALISED"
    assert {later[k] for k in instant if k in later} <= {None}
    # every section carries its own tracking id
    tracking = [s["trackingId"] for s in [*instant.values(), *personalised.values()]]
    assert all(tracking)
    assert len(set(tracking)) == len(tracking)
    # a venue shown at once is not repeated in a personalised carousel
    shown_at_once = {v["id"] for v in instant["popular_near_you"]["venues"]}
    assert not shown_at_once & {v["id"] for v in personalised["for_you"]["venues"]}


async def test_the_deadline_and_fallbacks_apply_to_deferred_sections(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(budget_ms=300) as gw:
        gw.fakes.fail("ranking", "hang")
        started = time.perf_counter()
        response = await _progressive(gw, user="u-hurried")
        elapsed = time.perf_counter() - started
        gw.fakes.hang.set()
    layout, later = assemble(payloads(response))
    assert elapsed < 3 * 0.3 + 0.6  # the budget, with a 3x margin and the in-process stack
    sources = {s["source"] for s in later.values() if s is not None}
    assert sources
    assert "PERSONALISED" not in sources
    assert {slot["id"] for slot in layout if slot["instant"]} >= {"popular_near_you"}


async def test_without_defer_the_layout_comes_whole_in_one_response(
    make_gateway: GatewayFactory,
) -> None:
    """Built whole, every section is ready at once: the compiled path projects it."""
    query = PROGRESSIVE.replace('... @defer(label: "personalised") {', "... {")
    async with make_gateway() as gw:
        response = await gw.query(query, {"loc": HELSINKI}, user="u-whole")
        plain = await gw.discovery(user="u-whole")
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "errors" not in body, body
    layout = body["data"]["discovery"]["layout"]
    assert all(slot["personalised"] is None for slot in layout)
    assert [slot["id"] for slot in layout] == [s["id"] for s in plain["sections"]]
    by_id = {slot["id"]: slot for slot in layout}
    assert by_id["for_you"]["instant"]["venues"]
    assert by_id["popular_near_you"]["instant"]["venues"]


async def test_a_client_that_does_not_ask_gets_todays_single_response(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        page = await gw.discovery(user="u-plain", headers={"Accept": ACCEPT})
    assert page["sections"]


def test_the_compiled_path_leaves_incremental_documents_to_graphql_core() -> None:
    from gateway.app import gateway_schema
    from gateway.settings import Settings

    schema = gateway_schema(Settings(environment="test").limits())
    path = CompiledPath(schema, documents=[])
    path.compile_unknown = True
    plain = "query P { discovery(location: {lat: 60.1, lon: 24.9}) { requestId } }"
    assert path.lookup(plain, None) is not None
    deferred = (
        "query D { discovery(location: {lat: 60.1, lon: 24.9}) "
        "{ requestId ... @defer { degraded } } }"
    )
    assert path.lookup(deferred, None) is None
    layout = "query L { discovery(location: {lat: 60.1, lon: 24.9}) { layout { id } } }"
    assert path.lookup(layout, None) is not None  # a page built whole: plain attributes
