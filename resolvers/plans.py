"""Surface plans: the YAML that says what each surface shows, parsed once into frozen models.

A plan is data, not code, so product can reorder sections, change limits or fallback chains
and budgets without a release; validation at start-up turns a typo into a refusal to start
that names the offending path, never into a page that silently misses a section.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clients.base import DEFAULT_RESERVE_S
from clients.contracts import EntityKind, Location, PopularityScope, RetrievalStrategy, Surface
from clients.contracts.retrieval import STRATEGY_KIND

_SCALE = float(2**64)


class PlanError(ValueError):
    """The plans file is missing or invalid; the message names the setting."""


class FallbackStep(StrEnum):
    """One step of a section's fallback chain, best first."""

    RANKED = "ranked"
    CANDIDATE_ORDER = "candidate_order"
    POPULAR = "popular"
    STALE = "stale"
    DEFAULT = "default"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Market(_Frozen):
    """A city the app operates in; locations are mapped to the nearest market in range."""

    id: str
    name: str
    center: Location
    radius_km: float = Field(gt=0)
    timezone: str
    currency: str = Field(min_length=3, max_length=3)


class SectionContent(_Frozen):
    """Where a section's primary content comes from: exactly one of the three."""

    strategy: RetrievalStrategy | None = None
    popular: PopularityScope | None = None
    decision_point: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SectionContent:
        given = [v for v in (self.strategy, self.popular, self.decision_point) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of strategy, popular, decision_point")
        return self


class SectionPlan(_Frozen):
    """One section of a surface."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: EntityKind
    title: str
    content: SectionContent
    fallback: tuple[FallbackStep, ...] = Field(min_length=1)
    limit: int = Field(default=20, ge=1, le=500)
    personalised_only: bool = False
    hide_when_empty: bool = False
    dedupe: bool = True
    default_ids: tuple[str, ...] = ()
    ranking_variant: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SectionPlan:
        strategy = self.content.strategy
        if strategy is not None and STRATEGY_KIND[strategy] != self.kind:
            raise ValueError(
                f"strategy {strategy.value!r} yields {STRATEGY_KIND[strategy].value}s, "
                f"not {self.kind.value}s"
            )
        if self.fallback[-1] is not FallbackStep.DEFAULT:
            raise ValueError("the fallback chain must end with 'default'")
        needs_candidates = {FallbackStep.RANKED, FallbackStep.CANDIDATE_ORDER}
        if self.content.popular is not None and needs_candidates & set(self.fallback):
            raise ValueError("a popularity section cannot fall back to ranked/candidate_order")
        return self

    @property
    def primary_step(self) -> FallbackStep:
        """The step whose source is this section's normal, non-degraded source."""
        return self.fallback[0]


class Variant(_Frozen):
    """One arm of an experiment and what it changes."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    share: float = Field(ge=0, le=1)
    ranking_variant: str | None = None
    hidden_sections: tuple[str, ...] = ()


class Experiment(_Frozen):
    """An experiment on one surface; runs between ``start`` and ``stop`` when given."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    surface: Surface
    salt: str = Field(min_length=1)
    variants: tuple[Variant, ...] = Field(min_length=1)
    start: datetime | None = None
    stop: datetime | None = None

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Experiment:
        total = sum(v.share for v in self.variants)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"variant shares of {self.name!r} sum to {total}, not 1")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate variant names in {self.name!r}")
        return self

    def running(self, now: datetime) -> bool:
        return (self.start is None or self.start <= now) and (self.stop is None or now < self.stop)

    def bucket(self, unit_id: str) -> float:
        """A uniform point in [0, 1) for this unit, independent across salts."""
        digest = hashlib.sha256(f"{self.salt}\x1f{unit_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / _SCALE

    def assign(self, unit_id: str) -> Variant:
        point = self.bucket(unit_id)
        cumulative = 0.0
        for variant in self.variants:
            cumulative += variant.share
            if point < cumulative:
                return variant
        return self.variants[-1]


class SectionOrderPlan(_Frozen):
    """A bandit decides the order of sections; the configured order is its fallback."""

    decision_point: str


class SurfacePlan(_Frozen):
    budget_ms: int = Field(gt=0, le=10_000)
    sections: tuple[SectionPlan, ...] = Field(min_length=1)
    section_order: SectionOrderPlan | None = None
    max_first: int = Field(default=50, ge=1, le=500)

    @model_validator(mode="after")
    def _unique_ids(self) -> SurfacePlan:
        ids = [s.id for s in self.sections]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate section ids: {', '.join(duplicates)}")
        return self

    def section(self, section_id: str) -> SectionPlan:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)


class Plans(_Frozen):
    """All surface plans plus the page-wide settings."""

    #: the clients' default reserve unless the plans file sets its own
    reserve_ms: int = Field(default=round(DEFAULT_RESERVE_S * 1000), ge=0, le=1000)
    stale_section_ttl_s: int = Field(default=86_400, ge=0)
    dedupe_venues: bool = True
    markets: tuple[Market, ...] = Field(min_length=1)
    surfaces: dict[Surface, SurfacePlan]
    experiments: tuple[Experiment, ...] = ()

    @model_validator(mode="after")
    def _all_surfaces(self) -> Plans:
        missing = [s.value for s in Surface if s not in self.surfaces]
        if missing:
            raise ValueError(f"missing surfaces: {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _experiments_fit(self) -> Plans:
        names = [e.name for e in self.experiments]
        salts = [e.salt for e in self.experiments]
        if len(set(names)) != len(names) or len(set(salts)) != len(salts):
            raise ValueError(
                "experiment names and salts must be unique (a shared salt makes "
                "two experiments assign the same viewers together)"
            )
        for experiment in self.experiments:
            sections = {s.id for s in self.surfaces[experiment.surface].sections}
            for variant in experiment.variants:
                unknown = set(variant.hidden_sections) - sections
                if unknown:
                    raise ValueError(
                        f"experiment {experiment.name!r} variant {variant.name!r} hides unknown "
                        f"sections: {', '.join(sorted(unknown))}"
                    )
        return self

    def surface(self, name: Surface) -> SurfacePlan:
        return self.surfaces[name]


def _format_error(path: Path, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        problems.append(f"  {where}: {err['msg']}")
    return f"invalid surface plans in {path}:\n" + "\n".join(problems)


def parse_plans(data: Any, *, source: Path = Path("<memory>")) -> Plans:
    """Validate already-loaded YAML data; raises PlanError naming each bad path."""
    try:
        return Plans.model_validate(data)
    except ValidationError as exc:
        raise PlanError(_format_error(source, exc)) from exc


def load_plans(path: Path) -> Plans:
    """Read and validate the plans file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PlanError(f"surface plans file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise PlanError(f"surface plans file {path} is not valid YAML: {exc}") from exc
    return parse_plans(data, source=path)
