"""Per-section tracking ids and decision-log lines, produced as a page is shaped."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from resolvers.engine import BuiltSection
from resolvers.events.decision_log import DecisionLog
from resolvers.materialise import entity_ids
from resolvers.request import PageRequest
from resolvers.tracking import TrackingSigner, served_decision_id, tracking_id


def section_decision_id(page_id: str, section: str) -> str:
    """The decision id of a section no bandit decided (a ranking or fallback order): the
    gateway's page id, never the client-supplied request id."""
    return f"{page_id}:{section}"


class SectionTracker:
    """Signs each section's tracking id and logs each decision (off the request path)."""

    def __init__(self, signer: TrackingSigner, decisions: DecisionLog | None = None) -> None:
        self.signer = signer
        self.decisions = decisions or DecisionLog(None)

    @classmethod
    def ephemeral(cls) -> SectionTracker:
        return cls(TrackingSigner.ephemeral())

    def _context(self, request: PageRequest, surface: str) -> dict[str, Any]:
        now = request.local_now
        return {
            "surface": surface,
            "city": request.city,
            "hour": now.hour,
            "weekday": now.weekday(),
            "platform": request.platform,
            "user": self.signer.viewer_hash(request.user_id),
            "experiments": dict(request.report.experiments),
        }

    def section(
        self, request: PageRequest, surface: str, built: BuiltSection, position: int
    ) -> str:
        """The section's tracking id; its decision goes to the decision log."""
        plan = built.plan
        ids = entity_ids(built.entities)
        meta = built.decision
        order = meta.get("order")
        if order is not None:
            meta = {**meta, "order": {**order, "position": position}}
        now = time.time()
        token = tracking_id(
            self.signer,
            request_id=request.request_id,
            surface=surface,
            section_id=plan.id,
            source=built.source.value,
            meta=meta,
            user_id=request.user_id,
            entity_ids=ids,
            variant=request.ranking_variant,
            issued_at=now,
            page_id=request.page_id,
        )
        if self.decisions.enabled:
            bandit = "decision_id" in meta
            self.decisions.record(
                {
                    "type": "decision",
                    "decision_id": served_decision_id(meta["decision_id"], request.page_id)
                    if bandit
                    else section_decision_id(request.page_id, plan.id),
                    "decision_point": plan.content.decision_point if bandit else None,
                    "timestamp": now,
                    "request_id": request.request_id,
                    "exposure_id": request.page_id,
                    "section": plan.id,
                    "source": built.source.value,
                    "context": self._context(request, surface),
                    "arms": meta.get("arms") or list(meta.get("propensities") or ids),
                    "shown": ids,
                    "propensities": meta.get("propensities"),
                    "policy_version": meta.get("policy_version"),
                    "model_version": meta.get("model_version"),
                    "variant": request.ranking_variant,
                }
            )
        return token

    def page(
        self,
        request: PageRequest,
        surface: str,
        decision_point: str | None,
        built: Sequence[BuiltSection],
    ) -> None:
        """Log the page-level section-order decision, if a bandit made one."""
        if not self.decisions.enabled or decision_point is None or not built:
            return
        order = built[0].decision.get("order")
        if order is None:
            return
        self.decisions.record(
            {
                "type": "decision",
                "decision_id": served_decision_id(order["decision_id"], request.page_id),
                "decision_point": decision_point,
                "timestamp": time.time(),
                "request_id": request.request_id,
                "exposure_id": request.page_id,
                "section": None,
                "source": "PERSONALISED",
                "context": self._context(request, surface),
                "arms": order["arms"],
                "shown": [b.plan.id for b in built],
                "propensities": order["propensities"],
                "policy_version": order["policy_version"],
                "model_version": None,
                "variant": request.ranking_variant,
            }
        )


__all__ = ["SectionTracker", "section_decision_id"]
