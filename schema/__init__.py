"""The GraphQL schema (Strawberry) of the personalisation gateway, v1."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension

from schema.context import GatewayContext
from schema.query import Query
from schema.types import SECTION_IMPLEMENTATIONS

SDL_PATH = Path(__file__).with_name("schema.graphql")


def build_schema(extensions: Sequence[type[SchemaExtension] | SchemaExtension] = ()) -> Any:
    """The executable schema with the given extensions (limits, masking, tracing)."""
    return strawberry.Schema(
        query=Query, types=SECTION_IMPLEMENTATIONS, extensions=list(extensions)
    )


def export_sdl() -> str:
    """The schema's SDL as committed in ``schema/schema.graphql``."""
    return str(build_schema().as_str()) + "\n"


__all__ = ["SDL_PATH", "GatewayContext", "build_schema", "export_sdl"]
