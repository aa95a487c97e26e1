"""The root Mutation: ``recordEvents`` (impressions, clicks, add-to-cart, orders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from resolvers.events import Event, EventBatchTooLarge, EventRecorder, RecordedEvents
from schema.context import GatewayContext
from schema.inputs import EventInput
from schema.types import RecordEventsPayload


@dataclass
class EventsContext(GatewayContext):
    """The context with what ``recordEvents`` needs: the recorder and the rate-limit key."""

    events: EventRecorder | None = None
    rate_key: str = "-"


EventsInfo = Info[GatewayContext, None]


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
        info: EventsInfo,
        events: Annotated[
            list[EventInput], strawberry.argument(description="The events, oldest first.")
        ],
    ) -> RecordEventsPayload:
        ctx = info.context
        recorder = ctx.events if isinstance(ctx, EventsContext) else None
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
        rate_key = ctx.rate_key if isinstance(ctx, EventsContext) else "-"
        try:
            recorded: RecordedEvents = await recorder.record(ctx.viewer.user_id, rate_key, batch)
        except EventBatchTooLarge as exc:
            extensions: dict[str, Any] = {"code": "BAD_USER_INPUT", "argument": "events"}
            raise GraphQLError(
                f"Argument 'events' has {exc.size} events; at most {exc.limit} per call.",
                extensions=extensions,
            ) from None
        return recorded  # type: ignore[return-value]
