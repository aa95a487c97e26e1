"""The GraphQL schema (Strawberry) of the personalisation gateway, v1."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.context import GatewayContext, GatewayInfo, gateway_context, operation_errors
from schema.mutation import Mutation  # recordEvents (decision 0007)
from schema.query import Query
from schema.types import SECTION_IMPLEMENTATIONS

SDL_PATH = Path(__file__).with_name("schema.graphql")


ErrorProcessor = Callable[[list[GraphQLError], ExecutionContext | None], None]


class GatewaySchema(strawberry.Schema):
    """A Strawberry schema whose error processing is supplied by the gateway.

    Strawberry hands parse and validation errors only to ``process_errors`` (extensions
    never see them as a result), so error coding must hook in here to reach every error.
    """

    def __init__(
        self, *args: Any, error_processor: ErrorProcessor | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._error_processor = error_processor

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        if self._error_processor is not None:
            self._error_processor(errors, execution_context)
        else:
            super().process_errors(errors, execution_context)


def build_schema(
    extensions: Sequence[Any] = (),
    *,
    error_processor: ErrorProcessor | None = None,
    incremental: bool = False,
) -> Any:
    """The executable schema with the given extensions (limits, masking, tracing).

    ``incremental`` adds ``@defer``/``@stream`` (graphql-core 3.3's incremental execution,
    decision 0021). graphql-core's plain ``execute`` refuses a schema holding them, and the
    compiled path (0008) executes through it, so documents that use neither run on the
    schema without them; the gateway sends the others to this one.
    """
    config = StrawberryConfig(enable_experimental_incremental_execution=incremental)
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        types=SECTION_IMPLEMENTATIONS,
        extensions=list(extensions),
        error_processor=error_processor,
        config=config,
    )


def export_sdl() -> str:
    """The schema's SDL as committed in ``schema/schema.graphql`` (with ``@defer`` and
    ``@stream``, which clients may use)."""
    return str(build_schema(incremental=True).as_str()) + "\n"


__all__ = [
    "SDL_PATH",
    "GatewayContext",
    "GatewayInfo",
    "build_schema",
    "export_sdl",
    "gateway_context",
    "operation_errors",
]
