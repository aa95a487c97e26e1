"""The root Mutation: ``recordEvents`` (impressions, clicks, add-to-cart, orders)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from resolvers.events import Event, EventBatchTooLarge, RecordedEvents
from schema.context import GatewayInfo
from schema.inputs import EventInput
from schema.types import RecordEventsPayload


@strawberry.type(description="Feedback from the apps.")
class Mutation:
    @strawberry.mutation(
        description=(
            "Record what the viewer saw and did. Each event is validated against its "
            "trackingId (genuine, issued to this viewer, entity shown there, recent) and "
            "answered one by one; rejected events say why. Safe to resend: events are "
            "idempotent."
        )
    )
    async def record_events(
        self,
        info: GatewayInfo,
        events: Annotated[
            list[EventInput], strawberry.argument(description="The events, oldest first.")
        ],
    ) -> RecordEventsPayload:
        ctx = info.context
        recorder = ctx.events
        if recorder is None:
            raise GraphQLError(
                "Events are not recorded by this gateway.",
                extensions={"code": "INTERNAL_SERVER_ERROR"},
            )
        batch = [
            Event(
                kind=e.kind,
                tracking_id=str(e.tracking_id),
                entity_id=str(e.entity_id),
                position=e.position,
                occurred_at=e.occurred_at,
            )
            for e in events
        ]
        try:
            recorded: RecordedEvents = await recorder.record(
                ctx.viewer.user_id, ctx.rate_key, batch
            )
        except EventBatchTooLarge as exc:
            extensions: dict[str, Any] = {"code": "BAD_USER_INPUT", "argument": "events"}
            raise GraphQLError(
                f"Argument 'events' has {exc.size} events; at most {exc.limit} per call.",
                extensions=extensions,
            ) from None
        return recorded  # type: ignore[return-value]
