"""``POST /v1/candidates:batch``: each request answered exactly as ``/v1/candidates`` would."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backends.retrieval.app import create_app
from backends.retrieval.logic import Retrieval, get_retrieval
from backends.world import BadLocalTimeError
from clients.contracts import CandidatesBatchResponse, CandidatesRequest, CandidatesResponse
from clients.contracts.retrieval import MAX_BATCH_REQUESTS
from tests.backends.test_retrieval import _known_user, _req


def _page_requests() -> list[dict[str, Any]]:
    """What a discovery page asks for, plus the other surfaces' strategies."""
    user = _known_user()
    return [
        _req("for_you", user_id=user, limit=20),
        _req("brands", limit=12),
        _req("order_again", user_id=user, limit=10),
        _req("categories", user_id=user, limit=12),
        _req("new", limit=15),
        _req("category", category="pizza", limit=5),
        _req("venue_items", venue_id="v00001", limit=8),
        _req("co_purchase", venue_id="v00001", cart_item_ids=["i000001"], limit=6),
        _req("for_you", location={"lat": 0, "lon": 0}),  # nobody delivers: empty
    ]


async def test_batch_equals_the_single_answers_in_order(retrieval: httpx.AsyncClient) -> None:
    requests = _page_requests()
    r = await retrieval.post("/v1/candidates:batch", json={"requests": requests})
    assert r.status_code == 200, r.text
    batch = CandidatesBatchResponse.model_validate(r.json())
    singles = []
    for req in requests:
        single = await retrieval.post("/v1/candidates", json=req)
        assert single.status_code == 200, single.text
        singles.append(CandidatesResponse.model_validate(single.json()))
    assert batch.responses == singles
    assert [len(s.candidates) > 0 for s in batch.responses] == [True] * 8 + [False]
    # reversing the batch reverses the answers: order is the request order
    backwards = await retrieval.post("/v1/candidates:batch", json={"requests": requests[::-1]})
    assert CandidatesBatchResponse.model_validate(backwards.json()).responses == singles[::-1]


async def test_the_same_request_twice_gets_the_same_answer_twice(
    retrieval: httpx.AsyncClient,
) -> None:
    req = _req("nearby", limit=10)
    body = (await retrieval.post("/v1/candidates:batch", json={"requests": [req, req]})).json()
    assert len(body["responses"]) == 2
    assert body["responses"][0] == body["responses"][1]
    assert body["responses"][0]["candidates"]


async def test_a_bad_local_time_fails_the_whole_batch(retrieval: httpx.AsyncClient) -> None:
    good = _req("for_you")
    bad = _req("nearby", local_time="lunchtime")
    single = await retrieval.post("/v1/candidates", json=bad)
    assert single.status_code == 422
    r = await retrieval.post("/v1/candidates:batch", json={"requests": [good, bad]})
    assert r.status_code == 422
    assert r.json()["detail"]  # says what was wrong
    assert "responses" not in r.json()


class _RejectsOneTime(Retrieval):
    """The reference logic, but one local time is refused after request validation."""

    def __init__(self) -> None:
        self.__dict__.update(get_retrieval().__dict__)

    def candidates_payload(self, req: CandidatesRequest) -> dict[str, Any]:
        if req.local_time == "2025-03-05T23:59:00+02:00":
            raise BadLocalTimeError(f"local_time is not ISO 8601: {req.local_time!r}")
        return super().candidates_payload(req)


async def test_bad_local_time_error_from_the_logic_is_a_422_naming_the_request() -> None:
    app = create_app(_RejectsOneTime())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        late = _req("for_you", local_time="2025-03-05T23:59:00+02:00")
        single = await c.post("/v1/candidates", json=late)
        assert single.status_code == 422
        r = await c.post("/v1/candidates:batch", json={"requests": [_req("new"), late]})
        assert r.status_code == 422
        assert r.json()["detail"].startswith("requests[1]: local_time is not ISO 8601")
        ok = await c.post("/v1/candidates:batch", json={"requests": [_req("new")]})
        assert ok.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"requests": []}, id="empty"),
        pytest.param(
            {"requests": [_req("new", limit=1)] * (MAX_BATCH_REQUESTS + 1)}, id="too-many"
        ),
        pytest.param({}, id="no-requests"),
        pytest.param({"requests": [{"strategy": "for_you"}]}, id="invalid-request"),
        pytest.param({"requests": [_req("new", limit=0)]}, id="limit-out-of-range"),
    ],
)
async def test_invalid_batches_are_422_with_a_message(
    retrieval: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    r = await retrieval.post("/v1/candidates:batch", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail
    assert all(e["msg"] and e["loc"] for e in detail)


async def test_the_largest_batch_is_answered(retrieval: httpx.AsyncClient) -> None:
    requests = [_req("nearby", limit=n + 1) for n in range(MAX_BATCH_REQUESTS)]
    r = await retrieval.post("/v1/candidates:batch", json={"requests": requests})
    assert r.status_code == 200, r.text
    sizes = [len(s["candidates"]) for s in r.json()["responses"]]
    assert sizes == list(range(1, MAX_BATCH_REQUESTS + 1))


async def test_faults_apply_to_the_batch_once_per_call(retrieval: httpx.AsyncClient) -> None:
    batch = {"requests": [_req("new"), _req("brands")]}
    await retrieval.put("/_faults", json={"error_rate": 1.0, "status": 503})
    r = await retrieval.post("/v1/candidates:batch", json=batch)
    assert r.status_code == 503
    assert r.json()["error"] == "injected fault"
    await retrieval.put("/_faults", json={"malformed_rate": 1.0})
    r = await retrieval.post("/v1/candidates:batch", json=batch)
    assert r.status_code == 200
    assert "responses" not in r.text
    await retrieval.delete("/_faults")
    seen = [s["path"] for s in (await retrieval.get("/_debug/requests")).json()]
    assert seen == ["/v1/candidates:batch", "/v1/candidates:batch"]
    assert (await retrieval.post("/v1/candidates:batch", json=batch)).status_code == 200
