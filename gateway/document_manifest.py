"""Persisted-document manifests, in the direction client build tools go: the client's build
emits ``{"<document id>": "<document>"}`` (graphql-codegen's client preset
``persisted-documents.json``; Relay's ``persisted_queries.json``), the server loads it, and
the apps then send ``{"documentId": "<id>"}`` instead of the text. Apollo's persisted query
manifest (``{"format": "apollo-persisted-query-manifest", "operations": [{id, body}]}``) is
read too.

Ids are opaque (Relay hashes with md5, codegen with sha256); ``sha256:<hex>`` — the GraphQL
over HTTP persisted-documents proposal's prefixed form — and the bare hex name the same
document. ``python -m gateway operations manifest`` writes the shipped operations
(``schema/operations/``) in the codegen/Relay format, keyed by the sha256 of each document as
the apps send it. Decision 0019.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SHA256_PREFIX = "sha256:"


class ManifestError(ValueError):
    """The manifest file is not one of the understood formats."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_id(document_id: str) -> str:
    """``sha256:<hex>`` → ``<hex>``; any other id unchanged."""
    return document_id.removeprefix(SHA256_PREFIX)


def parse_manifest(raw: Any) -> dict[str, str]:
    """Document id → document text from a decoded manifest (either format)."""
    if isinstance(raw, dict) and raw.get("format") == "apollo-persisted-query-manifest":
        operations = raw.get("operations")
        if not isinstance(operations, list):
            raise ManifestError("an Apollo manifest needs an 'operations' list")
        found: dict[str, str] = {}
        for operation in operations:
            if not (
                isinstance(operation, dict)
                and isinstance(operation.get("id"), str)
                and isinstance(operation.get("body"), str)
            ):
                raise ManifestError("each Apollo manifest operation needs a string id and body")
            found[normalise_id(operation["id"])] = operation["body"]
        return found
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ManifestError('expected {"<document id>": "<document>", …}')
    return {normalise_id(key): value for key, value in raw.items()}


def load_manifest(path: Path) -> dict[str, str]:
    """Document id → document text from ``path``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    try:
        return parse_manifest(raw)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from None


def export_manifest(documents: Iterable[str]) -> dict[str, str]:
    """sha256 hex of each document → the document (codegen's and Relay's format)."""
    return {sha256_hex(text): text for text in documents}


def by_sha256(manifest: Mapping[str, str]) -> dict[str, str]:
    """The same documents keyed by the sha256 of their text (APQ's key, whatever the ids)."""
    return {sha256_hex(text): text for text in manifest.values()}
