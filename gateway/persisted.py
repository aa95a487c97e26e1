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

A pure ASGI middleware reads the request once (``gateway.request_reading``; the view executes
that same reading), resolves the hash before Strawberry sees the request, so parsing and
validation caches, limits and every extension work unchanged. An APQ registration is stored
only after its document parsed and validated (``MarkValidated`` says so, the middleware then
stores it), in a store bounded in entries and bytes: an LRU in memory, and a fixed number of
slots in Redis (a new registration may take an older one's slot; the client re-registers).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from clients.cache import ResponseCache
from gateway.asgi_body import read_body, replaying
from gateway.document_manifest import normalise_id
from gateway.request_reading import (
    STATE_KEY,
    GraphQLRequest,
    RequestRefused,
    is_json,
    read_json_body,
    read_query_string,
)
from gateway.responses import accept_of, graphql_error
from schema import gateway_context
from schema.operations import OPERATIONS_DIR, operation_document, operation_files

Mode = Literal["apq", "trusted", "off"]

APQ_TTL_S = 7 * 24 * 3600


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def trusted_documents(directory: Path = OPERATIONS_DIR) -> dict[str, str]:
    """Hash → document text for every shipped operation (what the apps send)."""
    documents = (operation_document(path, directory) for path in operation_files(directory))
    return {sha256_hex(text): text for text in documents}


#: ``scope["state"]`` key: the query text that parsed and validated in this request.
VALIDATED_KEY = "graphql_validated"


class MarkValidated(SchemaExtension):
    """Notes on the request that its document parsed and validated (for APQ registration)."""

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        if not context.pre_execution_errors and context.query:
            gateway = gateway_context(context)
            mark_validated(gateway.request if gateway is not None else None, context.query)


def mark_validated(request: Any, query: str) -> None:
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        scope.setdefault("state", {})[VALIDATED_KEY] = query


class PersistedQueryStore:
    """Known documents by hash: trusted ones, plus APQ registrations (LRU in memory bounded
    in entries and bytes, and ``max_entries`` slots in the shared cache when Redis is
    configured, so one registration serves all replicas)."""

    def __init__(
        self,
        trusted: Mapping[str, str],
        cache: ResponseCache | None = None,
        *,
        max_entries: int = 5000,
        max_bytes: int = 8 * 1024 * 1024,
        max_document_bytes: int = 16 * 1024,
    ) -> None:
        self._trusted = dict(trusted)
        self._cache = cache
        self._local: OrderedDict[str, str] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self.max_document_bytes = max_document_bytes

    def share_through(self, cache: ResponseCache) -> None:
        """Use the gateway's response cache (shared when Redis is configured)."""
        self._cache = cache

    def is_trusted(self, sha: str) -> bool:
        return sha in self._trusted

    @property
    def entries(self) -> int:
        return len(self._local)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _slot(self, sha: str) -> str:
        return f"apq:{int(sha[:12], 16) % self._max_entries}"

    async def get(self, sha: str) -> str | None:
        if sha in self._trusted:
            return self._trusted[sha]
        if sha in self._local:
            self._local.move_to_end(sha)
            return self._local[sha]
        if self._cache is not None and self._cache.shared and _is_sha(sha):
            found = await self._cache.get(self._slot(sha), APQ_TTL_S)
            text = found[0] if found is not None else None
            if isinstance(text, str) and sha256_hex(text) == sha:
                self._remember(sha, text)
                return text
        return None

    async def put(self, sha: str, text: str) -> bool:
        """Store a validated registration; False when it is not kept (trusted, too big)."""
        size = len(text.encode("utf-8"))
        if sha in self._trusted or size > self.max_document_bytes or not _is_sha(sha):
            return False
        self._remember(sha, text)
        if self._cache is not None and self._cache.shared:
            await self._cache.set(self._slot(sha), text, APQ_TTL_S)
        return True

    def _remember(self, sha: str, text: str) -> None:
        if sha in self._local:
            self._local.move_to_end(sha)
            return
        self._local[sha] = text
        self._bytes += len(text.encode("utf-8"))
        while len(self._local) > self._max_entries or self._bytes > self._max_bytes:
            _, old = self._local.popitem(last=False)
            self._bytes -= len(old.encode("utf-8"))


def _is_sha(sha: str) -> bool:
    return len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)


class _Refusal(Exception):
    def __init__(
        self, status: int, message: str, code: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = dict(headers or {})


#: APQ's "send the text" answer must not be cached by anything between client and gateway:
#: the next request with the same hash may well be known (decision 0019).
_NOT_FOUND_HEADERS = {"Cache-Control": "private, no-cache"}


_NOT_TRUSTED = _Refusal(
    400, "Only the operations the apps ship are accepted here.", "OPERATION_NOT_TRUSTED"
)


class PersistedQueryMiddleware:
    """Reads the request once, turns a persisted-query request into an ordinary one, or
    refuses it (GraphQL-shaped); stores an APQ registration once it validated."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        mode: Mode,
        store: PersistedQueryStore,
        documents: Mapping[str, str] | None = None,
    ) -> None:
        """``documents``: persisted documents by id (``documentId``), beyond the store's
        sha256 keys (a Relay manifest's md5 ids, for example)."""
        self.app = app
        self.path = path
        self.mode = mode
        self.store = store
        self.documents = dict(documents or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        try:
            if method == "GET":
                request = read_query_string(scope.get("query_string") or b"")
            elif method == "POST" and is_json(_header(scope, b"content-type")):
                body = await read_body(receive)
                receive = replaying(body, receive)
                request = read_json_body(body)
            else:  # Strawberry refuses other methods and content types itself
                await self.app(scope, receive, send)
                return
            request, registration = await self._resolve(request)
        except RequestRefused as refused:
            await _refuse(
                _Refusal(refused.status, refused.message, refused.code), scope, receive, send
            )
            return
        except _Refusal as refusal:
            await _refuse(refusal, scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[STATE_KEY] = request
        await self.app(scope, receive, send)
        if registration is not None and state.get(VALIDATED_KEY) == registration[1]:
            await self.store.put(*registration)

    async def _resolve(
        self, request: GraphQLRequest
    ) -> tuple[GraphQLRequest, tuple[str, str] | None]:
        """Fill in ``query`` from the hash (or check it); and the registration to store
        once the document validated, if any."""
        if request.document_id is not None:
            return await self._document(request), None
        if self.mode == "off":
            return request, None
        extensions = request.extensions or {}
        persisted = extensions.get("persistedQuery")
        text = request.query
        if persisted is None:
            trusted_only = self.mode == "trusted" and text is not None
            if trusted_only and not self.store.is_trusted(sha256_hex(str(text))):
                raise _NOT_TRUSTED
            return request, None
        if not isinstance(persisted, dict):
            raise _Refusal(400, "Unsupported persisted query version.", "BAD_REQUEST")
        sha = persisted.get("sha256Hash")
        if persisted.get("version") != 1 or not isinstance(sha, str):
            raise _Refusal(400, "Unsupported persisted query version.", "BAD_REQUEST")
        if text is not None:
            if sha256_hex(text) != sha:
                raise _Refusal(400, "provided sha does not match query", "BAD_REQUEST")
            if self.mode == "trusted" and not self.store.is_trusted(sha):
                raise _NOT_TRUSTED
            return request, (None if self.store.is_trusted(sha) else (sha, text))
        known = await self.store.get(sha)
        if known is None:
            if self.mode == "trusted":
                raise _NOT_TRUSTED
            raise _Refusal(
                200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", _NOT_FOUND_HEADERS
            )
        return request.with_query(known), None

    async def _document(self, request: GraphQLRequest) -> GraphQLRequest:
        """``documentId`` (GraphQL over HTTP's persisted documents): the known document it
        names, by manifest id or sha256 (``sha256:<hex>`` or bare)."""
        if self.mode == "off":
            raise _Refusal(400, "Persisted documents are turned off here.", "BAD_REQUEST")
        if request.query is not None:
            raise _Refusal(400, "Send either `documentId` or `query`, not both.", "BAD_REQUEST")
        document_id = normalise_id(str(request.document_id))
        known = self.documents.get(document_id) or await self.store.get(document_id)
        if known is None:
            raise _Refusal(
                400,
                f"No persisted document with id {document_id[:80]!r}.",
                "PERSISTED_DOCUMENT_NOT_FOUND",
                _NOT_FOUND_HEADERS,
            )
        return request.with_query(known)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _refuse(refusal: _Refusal, scope: Scope, receive: Receive, send: Send) -> None:
    response = graphql_error(
        refusal.status, refusal.message, refusal.code, refusal.headers, accept=accept_of(scope)
    )
    await response(scope, receive, send)
