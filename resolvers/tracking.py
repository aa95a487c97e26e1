"""Tracking ids: a signed handle on the decision that produced a section.

Clients echo it back with events (``recordEvents``) so feedback joins the exact decision:
request, surface, section, source, versions, the bandit's decision and propensities, and
the entities shown, in order. It is opaque to clients and signed, so they can neither forge
one nor alter what it says was shown; it carries no personal data in clear (the viewer is
a keyed hash).

Format (decision 0007; key id since decision 0016):
``base64url(orjson(claims)) "." base64url(key_id[:4] + hmac_sha256(key, part1)[:16])``.
The key id (a hash of the key, not the key) says which key signed: the current one
(``PGW_TRACKING_KEY``) or the previous one (``PGW_TRACKING_KEY_PREVIOUS``), still accepted
after a rotation for the events window (24 h, the recorder refuses older ids anyway). Ids
without a key id (16-byte signatures, issued before) are tried against both keys.
Creating one is on the hot path of every section of every page: one orjson dump and one
HMAC with a key object prepared once, nothing else.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

FORMAT_VERSION = 1
SIGNATURE_BYTES = 16
KEY_ID_BYTES = 4
#: Longest tracking id ``verify`` will look at (a 20-entity carousel is ~0.5 KB).
MAX_TOKEN_CHARS = 4096


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class OrderDecision:
    """The page-level bandit decision that placed this section (section-order arm)."""

    decision_id: str
    policy_version: str | None
    propensity: float | None
    position: int


@dataclass(frozen=True, slots=True)
class TrackingClaims:
    """What a verified tracking id says."""

    request_id: str
    surface: str
    section: str
    source: str
    issued_at: float
    viewer: str | None
    entity_ids: tuple[str, ...]
    page_id: str | None = None
    """The gateway's id of the page served (its exposure id); absent in older ids."""
    decision_id: str | None = None
    policy_version: str | None = None
    model_version: str | None = None
    variant: str | None = None
    propensities: tuple[float, ...] | None = None
    order: OrderDecision | None = None


class InvalidTrackingId(ValueError):
    """Not a tracking id this deployment issued (bad format, bad signature, altered)."""


class TrackingSigner:
    """Signs and verifies tracking ids, and hashes viewer ids, with one secret key."""

    def __init__(self, key: bytes, previous: bytes | None = None) -> None:
        if len(key) < 16 or (previous is not None and len(previous) < 16):
            raise ValueError("the tracking key must be at least 16 bytes")
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self.key_id = key_id(key)
        self._macs = {self.key_id: self._mac}
        if previous is not None and key_id(previous) != self.key_id:
            self._macs[key_id(previous)] = hmac.new(previous, digestmod=hashlib.sha256)
        self._viewer_mac = hmac.new(b"pgw-viewer|" + key, digestmod=hashlib.sha256)
        # a page asks for its viewer's hash once per section and log line
        self._viewer_hash = functools.lru_cache(maxsize=4096)(self._hash_viewer)

    @classmethod
    def ephemeral(cls) -> TrackingSigner:
        """A signer with a random key: ids verify only within this process."""
        return cls(secrets.token_bytes(32))

    def viewer_hash(self, user_id: str | None) -> str | None:
        """A keyed, non-reversible hash of the viewer id (stable for this key)."""
        return None if user_id is None else self._viewer_hash(user_id)

    def _hash_viewer(self, user_id: str) -> str:
        mac = self._viewer_mac.copy()
        mac.update(user_id.encode())
        return _b64(mac.digest()[:12])

    def _signature(self, body: bytes, mac: Any = None) -> bytes:
        mac = (mac or self._mac).copy()
        mac.update(body)
        return bytes(mac.digest()[:SIGNATURE_BYTES])

    def sign(self, claims: Mapping[str, Any]) -> str:
        body = _b64(orjson.dumps(claims)).encode("ascii")
        return body.decode("ascii") + "." + _b64(self.key_id + self._signature(body))

    def _genuine(self, body: bytes, given: bytes) -> bool:
        if len(given) == KEY_ID_BYTES + SIGNATURE_BYTES:
            mac = self._macs.get(given[:KEY_ID_BYTES])
            return mac is not None and hmac.compare_digest(
                given[KEY_ID_BYTES:], self._signature(body, mac)
            )
        # an id from before key ids: any accepted key may have signed it
        return any(
            hmac.compare_digest(given, self._signature(body, mac)) for mac in self._macs.values()
        )

    def verify(self, token: str) -> TrackingClaims:
        """The claims of a genuine, unaltered tracking id; ``InvalidTrackingId`` otherwise."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise InvalidTrackingId("not a tracking id")
        body, _, signature = token.partition(".")
        try:
            given = _unb64(signature)
        except (binascii.Error, ValueError) as exc:
            raise InvalidTrackingId("not a tracking id") from exc
        if not self._genuine(body.encode("ascii", "replace"), given):
            raise InvalidTrackingId("bad signature")
        try:
            raw = orjson.loads(_unb64(body))
            return _claims(raw)
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise InvalidTrackingId("unreadable claims") from exc


def key_id(key: bytes) -> bytes:
    """A short public name of a key (a hash of it): which key signed an id."""
    return hashlib.sha256(b"pgw-tracking-kid|" + key).digest()[:KEY_ID_BYTES]


def _claims(raw: dict[str, Any]) -> TrackingClaims:
    if raw["v"] != FORMAT_VERSION:
        raise ValueError("unknown tracking id version")
    order = raw.get("o")
    propensities = raw.get("q")
    return TrackingClaims(
        request_id=str(raw["r"]),
        surface=str(raw["p"]),
        section=str(raw["s"]),
        source=str(raw["src"]),
        issued_at=float(raw["t"]),
        viewer=raw.get("u"),
        entity_ids=tuple(str(e) for e in raw["e"]),
        page_id=str(raw["g"]) if "g" in raw else None,
        decision_id=raw.get("d"),
        policy_version=raw.get("pv"),
        model_version=raw.get("m"),
        variant=raw.get("x"),
        propensities=tuple(float(p) for p in propensities) if propensities else None,
        order=OrderDecision(
            decision_id=str(order["d"]),
            policy_version=order.get("pv"),
            propensity=order.get("q"),
            position=int(order["k"]),
        )
        if order
        else None,
    )


def served_decision_id(decision_id: str, page_id: str | None) -> str:
    """The id of one decision as served on one page (``<decision id>~<page id>``)."""
    return decision_id if page_id is None else f"{decision_id}~{page_id}"


def tracking_id(
    signer: TrackingSigner,
    *,
    request_id: str,
    surface: str,
    section_id: str,
    source: str,
    meta: Mapping[str, Any],
    user_id: str | None,
    entity_ids: Sequence[str],
    variant: str | None = None,
    issued_at: float | None = None,
    page_id: str | None = None,
) -> str:
    """The signed tracking id of one section as shown.

    ``meta`` is the section's decision metadata (``BuiltSection.decision``): ``decision_id``,
    ``policy_version`` and ``propensities`` when a bandit chose its content, ``model_version``
    when a ranking model did, and ``order`` when a bandit placed the section on the page.
    With ``page_id``, the decision ids are served ids, ``<decision id>~<page id>``: one
    decision per page served, even when the page or the decision came from a cache.
    """
    claims: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "r": request_id,
        "p": surface,
        "s": section_id,
        "src": source,
        "t": int(issued_at if issued_at is not None else time.time()),
        "e": list(entity_ids),
    }
    viewer = signer.viewer_hash(user_id)
    if viewer is not None:
        claims["u"] = viewer
    if page_id is not None:
        claims["g"] = page_id
    if variant:
        claims["x"] = variant
    if "model_version" in meta:
        claims["m"] = meta["model_version"]
    if "decision_id" in meta:
        claims["d"] = served_decision_id(meta["decision_id"], page_id)
        claims["pv"] = meta.get("policy_version")
        propensities: Mapping[str, float] = meta.get("propensities") or {}
        claims["q"] = [round(propensities.get(e, 0.0), 4) for e in entity_ids]
    order = meta.get("order")
    if order:
        claims["o"] = {
            "d": served_decision_id(order["decision_id"], page_id),
            "pv": order.get("policy_version"),
            "q": order.get("propensity"),
            "k": order["position"],
        }
    return signer.sign(claims)


__all__ = [
    "InvalidTrackingId",
    "OrderDecision",
    "TrackingClaims",
    "TrackingSigner",
    "served_decision_id",
    "tracking_id",
]
