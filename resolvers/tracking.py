"""Tracking ids: an opaque handle on the decision that produced a section.

Clients echo it back with impressions and clicks so feedback can be joined to the exact
decision (request, surface, section, source, versions). It is opaque to clients on purpose:
its format can change (signing arrives with the feedback loop) without a schema change.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson


def tracking_id(
    request_id: str, surface: str, section_id: str, source: str, meta: Mapping[str, Any]
) -> str:
    payload = {"r": request_id, "p": surface, "s": section_id, "src": source}
    if "decision_id" in meta:
        payload["d"] = meta["decision_id"]
    if "model_version" in meta:
        payload["m"] = meta["model_version"]
    raw = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
