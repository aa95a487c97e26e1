"""Popularity contract: lists per city/category/venue; unknown keys answer empty."""

from __future__ import annotations

import httpx
import pytest

from clients.contracts import PopularResponse


@pytest.mark.parametrize(
    ("scope", "key", "kind", "prefix"),
    [
        ("city", "helsinki", "venue", "v"),
        ("city", "stockholm", "item", "i"),
        ("city", "tallinn", "brand", "b"),
        ("city", "helsinki", "category", ""),
        ("category", "helsinki:pizza", "venue", "v"),
        ("venue", "v00001", "item", "i"),
    ],
)
async def test_lists(
    popularity: httpx.AsyncClient, scope: str, key: str, kind: str, prefix: str
) -> None:
    r = await popularity.get(
        "/v1/popular", params={"scope": scope, "key": key, "kind": kind, "limit": 7}
    )
    body = PopularResponse.model_validate(r.json())
    assert 0 < len(body.ids) <= 7
    assert len(set(body.ids)) == len(body.ids)
    assert all(i.startswith(prefix) for i in body.ids)


async def test_unknown_key_is_empty(popularity: httpx.AsyncClient) -> None:
    r = await popularity.get(
        "/v1/popular", params={"scope": "city", "key": "atlantis", "kind": "venue"}
    )
    assert r.status_code == 200
    assert r.json()["ids"] == []


async def test_bad_scope_is_422(popularity: httpx.AsyncClient) -> None:
    r = await popularity.get("/v1/popular", params={"scope": "galaxy", "key": "x"})
    assert r.status_code == 422
