"""Persisted operations: Automatic Persisted Queries and trusted documents.

Apps send ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": H}}}`` instead of
the document text (Apollo's APQ protocol): the first time the gateway does not know ``H`` it
answers ``PersistedQueryNotFound`` and the client resends with the text, which is stored.
Trusted documents are the operations the apps ship (``schema/operations/``), known by hash
from start-up. Modes (``PGW_PERSISTED_QUERIES``):

- ``apq`` (default): any document, by text or by a known hash;
- ``trusted``: only trusted documents, by hash or by text — anything else is refused, so a
  public endpoint cannot be made to run arbitrary queries;
- ``off``: texts only.

A pure ASGI middleware resolves the hash before Strawberry sees the request, so parsing and
validation caches, limits and every extension work unchanged.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from clients.cache import ResponseCache
from gateway.asgi_body import read_body, replaying
from gateway.responses import accept_of, graphql_error
from schema.operations import OPERATIONS_DIR, operation_document, operation_files

Mode = Literal["apq", "trusted", "off"]

APQ_TTL_S = 7 * 24 * 3600


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def trusted_documents(directory: Path = OPERATIONS_DIR) -> dict[str, str]:
    """Hash → document text for every shipped operation (what the apps send)."""
    documents = (operation_document(path, directory) for path in operation_files(directory))
    return {sha256_hex(text): text for text in documents}


class PersistedQueryStore:
    """Known documents by hash: trusted ones, plus APQ registrations (LRU in memory, and in
    the shared cache when Redis is configured, so one registration serves all replicas)."""

    def __init__(
        self,
        trusted: Mapping[str, str],
        cache: ResponseCache | None = None,
        *,
        max_entries: int = 5000,
    ) -> None:
        self._trusted = dict(trusted)
        self._cache = cache
        self._local: OrderedDict[str, str] = OrderedDict()
        self._max_entries = max_entries

    def share_through(self, cache: ResponseCache) -> None:
        """Use the gateway's response cache (shared when Redis is configured)."""
        self._cache = cache

    def is_trusted(self, sha: str) -> bool:
        return sha in self._trusted

    async def get(self, sha: str) -> str | None:
        if sha in self._trusted:
            return self._trusted[sha]
        if sha in self._local:
            self._local.move_to_end(sha)
            return self._local[sha]
        if self._cache is not None and self._cache.shared:
            found = await self._cache.get(f"apq:{sha}", APQ_TTL_S)
            if found is not None and isinstance(found[0], str) and sha256_hex(found[0]) == sha:
                self._remember(sha, found[0])
                return found[0]
        return None

    async def put(self, sha: str, text: str) -> None:
        if sha in self._trusted:
            return
        self._remember(sha, text)
        if self._cache is not None and self._cache.shared:
            await self._cache.set(f"apq:{sha}", text, APQ_TTL_S)

    def _remember(self, sha: str, text: str) -> None:
        self._local[sha] = text
        self._local.move_to_end(sha)
        while len(self._local) > self._max_entries:
            self._local.popitem(last=False)


class _Refusal(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


_NOT_TRUSTED = _Refusal(
    400, "Only the operations the apps ship are accepted here.", "OPERATION_NOT_TRUSTED"
)


class PersistedQueryMiddleware:
    """Turns a persisted-query request into an ordinary one, or refuses it (GraphQL-shaped)."""

    def __init__(self, app: ASGIApp, *, path: str, mode: Mode, store: PersistedQueryStore) -> None:
        self.app = app
        self.path = path
        self.mode = mode
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or self.mode == "off":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        try:
            if method == "POST":
                receive = await self._rewrite_body(receive)
            elif method == "GET" and scope.get("query_string"):
                scope = await self._rewrite_query_string(scope)
        except _Refusal as refusal:
            await _refuse(refusal, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _resolve(self, payload: dict[str, Any]) -> bool:
        """Fill in ``query`` from the hash (or check and store it); True if it changed."""
        extensions = payload.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        text = payload.get("query")
        if not isinstance(persisted, dict):
            trusted_only = self.mode == "trusted" and isinstance(text, str)
            if trusted_only and not self.store.is_trusted(sha256_hex(str(text))):
                raise _NOT_TRUSTED
            return False
        sha = persisted.get("sha256Hash")
        if persisted.get("version") != 1 or not isinstance(sha, str):
            raise _Refusal(400, "Unsupported persisted query version.", "BAD_REQUEST")
        if isinstance(text, str):
            if sha256_hex(text) != sha:
                raise _Refusal(400, "provided sha does not match query", "BAD_REQUEST")
            if self.mode == "trusted" and not self.store.is_trusted(sha):
                raise _NOT_TRUSTED
            await self.store.put(sha, text)
            return False
        known = await self.store.get(sha)
        if known is None:
            if self.mode == "trusted":
                raise _NOT_TRUSTED
            raise _Refusal(200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        payload["query"] = known
        return True

    async def _rewrite_body(self, receive: Receive) -> Receive:
        body = await read_body(receive)
        payload = None
        # Plain requests pass untouched without a second JSON parse (apq mode's hot path).
        if self.mode == "trusted" or b"persistedQuery" in body:
            try:
                payload = orjson.loads(body) if body else None
            except orjson.JSONDecodeError:
                payload = None
        if isinstance(payload, dict) and await self._resolve(payload):
            body = orjson.dumps(payload)
        return replaying(body, receive)

    async def _rewrite_query_string(self, scope: Scope) -> Scope:
        params = {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}
        payload: dict[str, Any] = dict(params)
        if "extensions" in params:
            try:
                payload["extensions"] = orjson.loads(params["extensions"])
            except orjson.JSONDecodeError:
                return scope
        if not await self._resolve(payload):
            return scope
        params["query"] = payload["query"]
        return {**scope, "query_string": urlencode(params).encode("latin-1")}


async def _refuse(refusal: _Refusal, scope: Scope, receive: Receive, send: Send) -> None:
    response = graphql_error(refusal.status, refusal.message, refusal.code, accept=accept_of(scope))
    await response(scope, receive, send)
