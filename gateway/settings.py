"""Gateway settings: every ``PGW_*`` environment variable, validated once at start-up.

Nested settings use ``__``: ``PGW_RANKING__TIMEOUT_S=0.12``,
``PGW_CATALOG__BASE_URL=http://catalog:8101``. An invalid value stops start-up with a
message that names the variable (``gateway.cli`` prints it), never a half-configured gateway.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clients.config import BackendConfig, CacheConfig
from clients.contracts.ports import BACKEND_NAMES, reference_url
from gateway.collector import DEFAULT_THRESHOLDS
from gateway.demo_secret import DEMO_SECRET_PATH
from gateway.limits import Limits

DATA_DIR = Path(__file__).with_name("data")

#: Each backend's defaults; the URLs are the reference backends' (``clients.contracts.ports``).
BACKEND_DEFAULTS: dict[str, dict[str, Any]] = {
    "catalog": {"base_url": reference_url("catalog"), "timeout_s": 0.15, "cache_ttl_s": 300},
    "retrieval": {"base_url": reference_url("retrieval"), "timeout_s": 0.15, "cache_ttl_s": 60},
    "ranking": {"base_url": reference_url("ranking"), "timeout_s": 0.15, "cache_ttl_s": 60},
    "bandit": {
        "base_url": reference_url("bandit"),
        "timeout_s": 0.15,
        "cache_ttl_s": 30,
        "stale_ttl_s": 300,
    },
    "popularity": {"base_url": reference_url("popularity"), "timeout_s": 0.15, "cache_ttl_s": 60},
}


class Settings(BaseSettings):
    """Typed configuration of one gateway process."""

    model_config = SettingsConfigDict(
        env_prefix="PGW_",
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    environment: Literal["demo", "development", "test", "production"] = Field(
        default="production",
        description="production unless told otherwise (decision 0016): no debug, no "
        "introspection, no GraphiQL; `make demo` and tests say so explicitly.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    plans_path: Path = DATA_DIR / "plans.yaml"
    snapshot_path: Path = DATA_DIR / "reference_snapshot.json"
    reference_refresh_s: float | None = Field(
        default=60.0, gt=0, description="Reference data refresh period; unset disables it."
    )
    reference_max_age_s: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Reference data (popularity lists, banners) older than this is served as STALE "
            "on a degraded page; unset: never (the shipped snapshot counts as fresh)."
        ),
    )

    redis_url: str | None = Field(
        default=None, description="Shared cache; in-memory per process when unset."
    )
    cache_namespace: str = Field(
        default="pgw", pattern=r"^[A-Za-z0-9_.-]+$", description="Key prefix in the shared cache."
    )
    cache_memory_max_entries: int = Field(
        default=10_000,
        ge=1,
        description="In-memory response cache entries per worker without Redis (LRU beyond; "
        "~4.6 KB each; decision 0010).",
    )
    debug: bool = Field(
        default=False, description="Show backend timings and fallbacks in response extensions."
    )

    compiled_execution: bool = Field(
        default=True,
        description="Serve the shipped operations through the compiled path (gateway/compiled).",
    )
    compiled_hot_after: int = Field(
        default=3,
        ge=0,
        description="Compile any other valid query once its meaning ran this many times "
        "(decision 0023); 0 compiles only the shipped operations.",
    )
    compiled_max_plans: int = Field(
        default=256, ge=1, description="Compiled plans of other documents kept (LRU beyond)."
    )
    federation: bool = Field(
        default=False,
        description="Serve the Federation 2 subgraph schema on /subgraph (decision 0020).",
    )
    page_cache_ttl_s: float = Field(
        default=20.0,
        ge=0,
        description="How long a healthy built page is reused for the same viewer and "
        "situation (resolvers/page_cache; decision 0011). 0 turns it off.",
    )
    page_cache_max_entries: int = Field(
        default=1000, ge=0, description="Pages kept per worker (LRU beyond; ~50 KB each)."
    )
    shed_degrade_at: int = Field(
        default=48,
        ge=0,
        description="GraphQL requests in flight per worker beyond which pages are built "
        "cheap: popularity, stale and default sections (gateway/shedding; decision 0024). "
        "0 turns it off.",
    )
    shed_refuse_at: int = Field(
        default=192,
        ge=0,
        description="Requests in flight per worker beyond which the gateway answers 503 "
        "with Retry-After. 0 turns it off.",
    )
    shed_page_ttl_s: float = Field(
        default=3.0, ge=0, description="How long a page built cheap under overload is reused."
    )
    gc_thresholds: tuple[NonNegativeInt, NonNegativeInt, NonNegativeInt] = Field(
        default=DEFAULT_THRESHOLDS,
        description="The cyclic collector's thresholds after start-up, as a JSON list "
        "(gateway/collector; decision 0013). [700,10,10] is CPython's default.",
    )
    persisted_queries: Literal["apq", "trusted", "off"] = Field(
        default="apq",
        description="apq: documents by text or hash; trusted: only the shipped operations.",
    )
    persisted_documents: Path | None = Field(
        default=None,
        description="A persisted-document manifest ({id: document}, graphql-codegen's "
        "persisted-documents.json or Relay's) whose documents are trusted and sent by "
        "documentId (decision 0019).",
    )
    apq_max_entries: int = Field(
        default=5000,
        ge=1,
        le=1_000_000,
        description="APQ registrations kept in memory per worker, and slots in Redis.",
    )
    apq_max_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="APQ document bytes kept in memory."
    )
    apq_max_document_bytes: int = Field(
        default=16 * 1024, ge=256, description="Larger documents run but are not stored."
    )
    introspection: bool = Field(
        default=False,
        description="Allow schema introspection (on in the demo, for GraphiQL); refused in "
        "production.",
    )
    graphiql: bool | None = Field(
        default=None,
        description="Serve GraphiQL on GET /graphql; unset: on everywhere but production.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port only (not on the API port); unset: /metrics "
        "on the API port.",
    )
    max_query_depth: int = Field(default=12, ge=2, le=50)
    max_aliases: int = Field(default=20, ge=0, le=500)
    max_tokens: int = Field(default=1000, ge=100, le=100_000)
    max_root_fields: int = Field(default=4, ge=1, le=20)
    max_cost: int = Field(default=25_000, ge=100, le=10_000_000)
    max_errors: int = Field(
        default=20, ge=1, le=1000, description="Errors per response (decision 0016)."
    )
    max_directives: int = Field(
        default=16, ge=0, le=1000, description="Directives per document (decision 0016)."
    )
    max_merge_pairs: int = Field(
        default=3000,
        ge=10,
        le=1_000_000,
        description="Field/fragment pairs graphql-core's overlap rule may compare per "
        "document; repeated fields make validation quadratic (decision 0016).",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call from a browser (CORS)."
    )

    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 shared secret verifying bearer tokens."
    )
    jwt_jwks_url: str | None = Field(
        default=None, description="JWKS URL of RS256/ES256 public keys verifying tokens."
    )
    jwt_jwks_cache_s: int = Field(default=300, ge=0)
    jwt_jwks_refetch_s: float = Field(default=30.0, ge=0)
    local_no_auth: bool = Field(
        default=False,
        description="Allow production settings without any token verification (local use).",
    )
    rate_limit_enabled: bool = True
    rate_limit_rps: float = Field(default=20.0, gt=0, description="Per signed-in viewer.")
    rate_limit_burst: int = Field(default=60, ge=1)
    rate_limit_anonymous_rps: float = Field(
        default=100.0, gt=0, description="Per client IP for anonymous callers."
    )
    rate_limit_anonymous_burst: int = Field(default=300, ge=1)
    rate_limit_failed_tokens_rps: float = Field(
        default=0.2,
        gt=0,
        description="Invalid or expired tokens per client address; beyond, its unknown tokens "
        "are refused (429) before any verification (decision 0016).",
    )
    rate_limit_failed_tokens_burst: int = Field(default=10, ge=1)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_s: float = Field(default=30.0, ge=0)

    # -- feedback: tracking ids, decision log, events and rewards (decision 0007) -----------
    tracking_key: SecretStr | None = Field(
        default=None,
        description=(
            "HMAC key signing tracking ids (at least 32 characters; required in production). "
            "Unset elsewhere: derived from PGW_JWT_SECRET, or random per process."
        ),
    )
    tracking_key_previous: SecretStr | None = Field(
        default=None,
        description="The tracking key before a rotation: its ids are still accepted; remove "
        "it once the events window (24 h) has passed (decision 0016).",
    )
    decision_log_path: Path | None = Field(
        default=Path(".cache/feedback/decisions.jsonl"),
        description="JSON-lines decision log for off-policy evaluation; unset disables it.",
    )
    decision_log_queue: int = Field(default=10_000, ge=1)
    events_redis_url: str | None = Field(
        default=None,
        description="Durable Redis (append-only file, noeviction; never the cache's) for the "
        "reward outbox and the decision stream (decision 0017). Unset: the SQLite outbox and "
        "the JSON-lines decision log, local files (the demo).",
    )
    events_outbox_path: Path = Field(
        default=Path(".cache/feedback/outbox.sqlite3"),
        description="SQLite reward outbox (used when PGW_EVENTS_REDIS_URL is unset).",
    )
    events_stream: str = Field(
        default="rewards",
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Redis Stream of the reward outbox, under PGW_CACHE_NAMESPACE.",
    )
    events_decisions_stream: str = Field(
        default="decisions",
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Redis Stream of decisions and feedback lines, under PGW_CACHE_NAMESPACE.",
    )
    events_write_timeout_s: float = Field(
        default=1.0,
        gt=0,
        description="Longest a response waits for its decision lines to reach the stream.",
    )
    events_consumer: str | None = Field(
        default=None, description="Redis consumer name; host and pid when unset."
    )
    events_max_batch: int = Field(default=50, ge=1, le=500)
    events_window_s: float = Field(default=86_400.0, gt=0)
    events_rate_per_s: float = Field(default=10.0, gt=0, description="Events per viewer.")
    events_burst: int = Field(default=200, ge=1)
    rewards_batch: int = Field(default=100, ge=1, le=1000)
    rewards_lease_s: float = Field(default=30.0, gt=0)
    rewards_poll_s: float = Field(default=1.0, gt=0)
    rewards_backoff_initial_s: float = Field(default=0.5, gt=0)
    rewards_backoff_max_s: float = Field(default=30.0, gt=0)
    # -- end feedback ----------------------------------------------------------------------

    catalog: BackendConfig = BackendConfig(**BACKEND_DEFAULTS["catalog"])
    retrieval: BackendConfig = BackendConfig(**BACKEND_DEFAULTS["retrieval"])
    ranking: BackendConfig = BackendConfig(**BACKEND_DEFAULTS["ranking"])
    bandit: BackendConfig = BackendConfig(**BACKEND_DEFAULTS["bandit"])
    popularity: BackendConfig = BackendConfig(**BACKEND_DEFAULTS["popularity"])

    @model_validator(mode="before")
    @classmethod
    def _merge_backend_defaults(cls, data: Any) -> Any:
        """``PGW_RANKING__TIMEOUT_S=0.1`` alone changes the timeout, not the whole backend."""
        if isinstance(data, dict):
            for name in BACKEND_NAMES:
                given = data.get(name)
                if isinstance(given, dict):
                    data[name] = {**BACKEND_DEFAULTS[name], **given}
        return data

    @field_validator("persisted_documents")
    @classmethod
    def _manifest_loads(cls, path: Path | None) -> Path | None:
        """A manifest that does not load fails at start-up, naming the file."""
        if path is not None:
            from gateway.document_manifest import load_manifest

            load_manifest(path)
        return path

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        if self.environment != "production":
            return self
        if self.debug:
            raise ValueError("PGW_DEBUG must be false when PGW_ENVIRONMENT=production")
        if self.introspection:
            raise ValueError("PGW_INTROSPECTION must be false when PGW_ENVIRONMENT=production")
        if self.jwt_jwks_url is not None and (self.jwt_audience is None or self.jwt_issuer is None):
            raise ValueError(
                "PGW_JWT_AUDIENCE and PGW_JWT_ISSUER are required with PGW_JWT_JWKS_URL when "
                "PGW_ENVIRONMENT=production (a key set signs tokens for other services too)"
            )
        if self.jwt_secret is None and self.jwt_jwks_url is None and not self.local_no_auth:
            raise ValueError(
                "PGW_JWT_SECRET or PGW_JWT_JWKS_URL is required when "
                "PGW_ENVIRONMENT=production (PGW_LOCAL_NO_AUTH=true to run without, locally)"
            )
        if self.jwt_secret is not None:
            secret = self.jwt_secret.get_secret_value()
            if len(secret) < 32:
                raise ValueError("PGW_JWT_SECRET must be at least 32 characters in production")
            if DEMO_SECRET_PATH.exists() and secret == DEMO_SECRET_PATH.read_text().strip():
                raise ValueError("PGW_JWT_SECRET is the demo key: refused in production")
        # feedback: tracking ids must verify across replicas and restarts, so never a random
        # per-process key, and never one derived from the JWT secret: a key of its own, so
        # neither leaks or rotates with the other (0007, 0016)
        if self.tracking_key is None and not self.local_no_auth:
            raise ValueError(
                "PGW_TRACKING_KEY is required when PGW_ENVIRONMENT=production (it signs "
                "tracking ids; a key of its own, not the JWT secret)"
            )
        for name, value in (
            ("PGW_TRACKING_KEY", self.tracking_key),
            ("PGW_TRACKING_KEY_PREVIOUS", self.tracking_key_previous),
        ):
            if value is None:
                continue
            if len(value.get_secret_value()) < 32:
                raise ValueError(f"{name} must be at least 32 characters in production")
            if self.jwt_secret is not None and (
                value.get_secret_value() == self.jwt_secret.get_secret_value()
            ):
                raise ValueError(f"{name} must not be the JWT secret")
        return self

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is served only where enabled: by default everywhere but production."""
        return self.graphiql if self.graphiql is not None else not self.production

    def tracking_key_bytes(self) -> bytes | None:
        """The tracking-id signing key: PGW_TRACKING_KEY, else one derived from the JWT
        secret (so replicas and restarts agree), else None (a random key per process)."""
        if self.tracking_key is not None:
            return self.tracking_key.get_secret_value().encode()
        if self.jwt_secret is not None:
            secret = self.jwt_secret.get_secret_value().encode()
            return hmac.new(secret, b"pgw-tracking-key-v1", hashlib.sha256).digest()
        return None

    def previous_tracking_key_bytes(self) -> bytes | None:
        """The rotated-out tracking key, still accepted (PGW_TRACKING_KEY_PREVIOUS)."""
        previous = self.tracking_key_previous
        return previous.get_secret_value().encode() if previous is not None else None

    def backend_configs(self) -> dict[str, BackendConfig]:
        return {name: getattr(self, name) for name in BACKEND_NAMES}

    def limits(self) -> Limits:
        return Limits(
            max_depth=self.max_query_depth,
            max_aliases=self.max_aliases,
            max_tokens=self.max_tokens,
            max_root_fields=self.max_root_fields,
            max_cost=self.max_cost,
            introspection=self.introspection,
            max_directives=self.max_directives,
            max_merge_pairs=self.max_merge_pairs,
            max_errors=self.max_errors,
        )

    def cache_config(self) -> CacheConfig:
        return CacheConfig(
            redis_url=self.redis_url,
            namespace=self.cache_namespace,
            memory_max_entries=self.cache_memory_max_entries,
        )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests build ``Settings(...)`` directly instead."""
    return Settings()
