"""``POST /v1/rank:batch``: each request answered exactly as ``/v1/rank`` would."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backends.ranking.app import create_app
from backends.ranking.logic import Ranker, get_ranker
from backends.world import BadLocalTimeError
from clients.contracts import RankBatchResponse, RankRequest, RankResponse
from clients.contracts.ranking import MAX_BATCH_REQUESTS
from tests.backends.conftest import CTX


def _req(kind: str, ids: list[str], **kw: Any) -> dict[str, Any]:
    return {
        "surface": "discovery",
        "kind": kind,
        "context": CTX,
        "candidate_ids": ids,
        "user_id": "u0001",
        **kw,
    }


def _page_requests() -> list[dict[str, Any]]:
    """What a discovery page ranks (one request per kind), plus variants and edge cases."""
    venues = [f"v{i:05d}" for i in range(1, 40)]
    return [
        _req("venue", venues),
        _req("brand", ["b001", "b002", "b011", "b037"]),
        _req("category", ["pizza", "sushi", "burgers"]),
        _req("venue", venues, variant="treatment"),
        _req("venue", venues[:5], user_id=None),
        _req("item", ["i000001", "i000002", "i-never-seen"], surface="venue_page"),
        _req("venue", []),  # an empty candidate list: an empty score list
    ]


async def test_batch_equals_the_single_answers_in_order(ranking: httpx.AsyncClient) -> None:
    requests = _page_requests()
    r = await ranking.post("/v1/rank:batch", json={"requests": requests})
    assert r.status_code == 200, r.text
    batch = RankBatchResponse.model_validate(r.json())
    singles = []
    for req in requests:
        single = await ranking.post("/v1/rank", json=req)
        assert single.status_code == 200, single.text
        singles.append(RankResponse.model_validate(single.json()))
    assert batch.responses == singles
    assert [len(s.scores) for s in batch.responses] == [
        len(set(req["candidate_ids"])) for req in requests
    ]
    # reversing the batch reverses the answers: order is the request order
    backwards = await ranking.post("/v1/rank:batch", json={"requests": requests[::-1]})
    assert RankBatchResponse.model_validate(backwards.json()).responses == singles[::-1]


async def test_the_same_request_twice_gets_the_same_answer_twice(
    ranking: httpx.AsyncClient,
) -> None:
    req = _req("venue", ["v00001", "v00002", "v00003"])
    body = (await ranking.post("/v1/rank:batch", json={"requests": [req, req]})).json()
    assert len(body["responses"]) == 2
    assert body["responses"][0] == body["responses"][1]
    assert body["responses"][0]["scores"]


async def test_an_unknown_variant_fails_the_whole_batch_with_400(
    ranking: httpx.AsyncClient,
) -> None:
    good = _req("brand", ["b001"])
    bad = _req("venue", ["v00001"], variant="nope")
    single = await ranking.post("/v1/rank", json=bad)
    assert single.status_code == 400
    r = await ranking.post("/v1/rank:batch", json={"requests": [good, bad]})
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert detail.startswith("requests[1]: ")
    assert "nope" in detail
    assert "responses" not in r.json()


class _RejectsOneTime(Ranker):
    """The reference ranker, but one local time is refused after request validation."""

    def __init__(self) -> None:
        self.__dict__.update(get_ranker().__dict__)

    def rank_payload(self, req: RankRequest) -> dict[str, Any]:
        if req.context.local_time == "2025-03-05T23:59:00+02:00":
            raise BadLocalTimeError(f"local_time is not ISO 8601: {req.context.local_time!r}")
        return super().rank_payload(req)


async def test_bad_local_time_error_from_the_logic_is_a_422_naming_the_request() -> None:
    app = create_app(_RejectsOneTime())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        late = _req("venue", ["v00001"], context={**CTX, "local_time": "2025-03-05T23:59:00+02:00"})
        single = await c.post("/v1/rank", json=late)
        assert single.status_code == 422
        r = await c.post("/v1/rank:batch", json={"requests": [_req("brand", ["b001"]), late]})
        assert r.status_code == 422
        assert r.json()["detail"].startswith("requests[1]: local_time is not ISO 8601")
        ok = await c.post("/v1/rank:batch", json={"requests": [_req("brand", ["b001"])]})
        assert ok.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"requests": []}, id="empty"),
        pytest.param(
            {"requests": [_req("venue", ["v00001"])] * (MAX_BATCH_REQUESTS + 1)}, id="too-many"
        ),
        pytest.param({}, id="no-requests"),
        pytest.param({"requests": [{"surface": "discovery"}]}, id="invalid-request"),
        pytest.param(
            {"requests": [_req("venue", ["v1"], context={**CTX, "local_time": "noon"})]},
            id="bad-local-time",
        ),
    ],
)
async def test_invalid_batches_are_422_with_a_message(
    ranking: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    r = await ranking.post("/v1/rank:batch", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail
    assert all(e["msg"] and e["loc"] for e in detail)


async def test_the_largest_batch_is_answered(ranking: httpx.AsyncClient) -> None:
    requests = [
        _req("venue", [f"v{i:05d}" for i in range(1, n + 2)]) for n in range(MAX_BATCH_REQUESTS)
    ]
    r = await ranking.post("/v1/rank:batch", json={"requests": requests})
    assert r.status_code == 200, r.text
    sizes = [len(s["scores"]) for s in r.json()["responses"]]
    assert sizes == list(range(1, MAX_BATCH_REQUESTS + 1))


async def test_faults_apply_to_the_batch_once_per_call(ranking: httpx.AsyncClient) -> None:
    batch = {"requests": [_req("venue", ["v00001"]), _req("brand", ["b001"])]}
    await ranking.put("/_faults", json={"error_rate": 1.0, "status": 503})
    r = await ranking.post("/v1/rank:batch", json=batch)
    assert r.status_code == 503
    assert r.json()["error"] == "injected fault"
    await ranking.put("/_faults", json={"malformed_rate": 1.0})
    r = await ranking.post("/v1/rank:batch", json=batch)
    assert r.status_code == 200
    assert "responses" not in r.text
    await ranking.delete("/_faults")
    seen = [s["path"] for s in (await ranking.get("/_debug/requests")).json()]
    assert seen == ["/v1/rank:batch", "/v1/rank:batch"]
    assert (await ranking.post("/v1/rank:batch", json=batch)).status_code == 200
