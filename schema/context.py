"""The per-request GraphQL context the gateway builds and the root resolvers read."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.fastapi import BaseContext

from resolvers import Surfaces, Viewer
from resolvers.request import PageTrace


@dataclass
class GatewayContext(BaseContext):
    """Who is asking and the services to answer with; built once per HTTP request."""

    surfaces: Surfaces
    viewer: Viewer
    debug: bool = False
    trace_id: str | None = None
    traces: list[tuple[str, PageTrace]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
