"""At-least-once delivery through the SQLite outbox, with an exactly-once effect.

The bandit refuses connections while events are sent; the gateway is shut down with the
rewards undelivered; a new gateway on the same outbox file delivers them once the bandit is
back. Nothing is lost, and what is sent twice carries the same event id.
"""

from __future__ import annotations

from resolvers.events import SqliteOutbox
from tests.fakes import FakeBackends
from tests.feedback.conftest import FeedbackGateway, delivered, record, rewards_sent, section


async def test_rewards_survive_a_bandit_outage_and_a_gateway_restart(
    make_feedback_gateway: FeedbackGateway, fakes: FakeBackends
) -> None:
    async with make_feedback_gateway() as gw:
        pages = [await gw.discovery(user=u) for u in ("u0001", "u0002", "u0003")]
        fakes.fail("bandit", "refused")
        expected: set[str] = set()
        for user, page in zip(("u0001", "u0002", "u0003"), pages, strict=True):
            banners = section(page, "banners")
            clicks = [
                {"kind": "CLICK", "trackingId": banners["trackingId"], "entityId": b["id"]}
                for b in banners["banners"][:2]
            ]
            result = await record(gw, clicks, user=user)
            assert result["accepted"] == 2
            claims = gw.app.state.runtime.feedback.tracker.signer.verify(banners["trackingId"])
            expected |= {f"{claims.decision_id}/{b['id']}" for b in banners["banners"][:2]}
            assert claims.order is not None
            expected.add(f"{claims.order.decision_id}/banners")
        feedback = gw.app.state.runtime.feedback
        assert await feedback.outbox.pending() == len(expected) == 9
        attempts_down = len(rewards_sent(fakes))
        assert attempts_down >= 1  # the worker tried, and failed
        assert feedback.delivery.failures >= 1

    outbox_file = gw.app.state.runtime.settings.events_outbox_path
    probe = SqliteOutbox(outbox_file)
    await probe.open()
    assert await probe.pending() == 9  # durable across the restart
    await probe.close()

    async with make_feedback_gateway() as gw2:
        fakes.fail("bandit", None)
        await delivered(gw2)
        sent = rewards_sent(fakes)[attempts_down:]
        accepted_by_bandit = {f"{r['decision_id']}/{r['arm']}" for r in sent}
        assert accepted_by_bandit == expected
        event_ids = {(r["decision_id"], r["arm"]): r["event_id"] for r in sent}
        assert len(set(event_ids.values())) == 9
        # a duplicate delivery (e.g. a crash after the 202) carries the same event id
        for r in rewards_sent(fakes)[:attempts_down]:
            assert r["event_id"] == event_ids[(r["decision_id"], r["arm"])]
        assert await gw2.app.state.runtime.feedback.outbox.pending() == 0
