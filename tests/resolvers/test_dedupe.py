"""De-duplication across carousels and limits, on built sections (``dedupe_and_limit``)."""

from __future__ import annotations

from clients.contracts.common import Surface
from gateway.settings import DATA_DIR
from resolvers.engine import BuiltSection, dedupe_and_limit
from resolvers.page import ContentSource, Entity, Venue
from resolvers.plans import load_plans

PLANS = load_plans(DATA_DIR / "plans.yaml")
SECTIONS = {s.id: s for s in PLANS.surface(Surface.DISCOVERY).sections}


def _venues(*ids: str) -> list[Entity]:
    return [Venue(id=i, name=i, slug=i, price_level=1, tags=[], is_open=True) for i in ids]


def _built(section_id: str, *ids: str) -> BuiltSection:
    return BuiltSection(SECTIONS[section_id], ContentSource.PERSONALISED, _venues(*ids), False)


def _ids(section: BuiltSection) -> list[str]:
    return [e.id for e in section.entities if isinstance(e, Venue)]


def test_a_venue_shown_earlier_is_not_repeated_and_each_section_is_cut_to_its_limit() -> None:
    for_you = _built("for_you", *(f"v{n}" for n in range(30)))
    new = _built("new_on_the_app", "v1", "x1", "v2", "x2")
    dedupe_and_limit([for_you, new], dedupe_venues=True)
    assert _ids(for_you) == [f"v{n}" for n in range(20)]
    assert _ids(new) == ["x1", "x2"]
    assert not new.hidden


def test_a_carousel_emptied_by_de_duplication_is_hidden_not_shown_empty() -> None:
    for_you = _built("for_you", "v1", "v2", "v3")
    new = _built("new_on_the_app", "v2", "v3")
    assert dedupe_and_limit([for_you, new], dedupe_venues=True) == ["new_on_the_app"]
    assert new.hidden
    assert not for_you.hidden


def test_order_again_keeps_its_venues_and_a_section_empty_from_the_start_stays() -> None:
    for_you = _built("for_you", "v1")
    again = _built("order_again", "v1", "v2")
    empty = _built("new_on_the_app")
    dedupe_and_limit([for_you, again, empty], dedupe_venues=True)
    assert _ids(again) == ["v1", "v2"]  # dedupe: false
    assert not empty.hidden  # nothing was taken away: what to show is the plan's call
