"""GraphiQL as the gateway's product page, served by the gateway itself: no CDN at page load.

The browser bundle is built at set-up: ``make assets`` runs ``npm ci`` in
``gateway/graphiql/`` (GraphiQL 4, the explorer plugin and React, pinned by its
``package-lock.json``) and ``npm run build`` (esbuild) into ``gateway/graphiql/dist/``, which
the wheel carries (pyproject's ``artifacts``). Only that build output is served, from
``/graphiql/assets``.

The page (``graphiql_html``) opens on a tab for exploring (the explorer plugin builds a query
by clicking) followed by one tab per shipped operation (``schema/operations/``) with its
example variables; outside production, the headers editor holds a demo viewer's token so
personalised pages work at once. Served only where ``PGW_GRAPHIQL`` allows (default: not in
production). With the bundle missing the gateway still starts: the page then says to run
``make assets``. Decision 0019.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

log = logging.getLogger("gateway.graphiql")

#: ``gateway/graphiql/dist`` (esbuild's output); ``PGW_GRAPHIQL_ASSETS_DIR`` overrides it.
DIST: Final = Path(
    os.environ.get("PGW_GRAPHIQL_ASSETS_DIR") or Path(__file__).with_name("graphiql") / "dist"
)

#: The only files served: URL name under the prefix -> path inside ``DIST``.
ASSETS: Final[dict[str, str]] = {
    "graphiql.js": "graphiql.js",
    "graphiql.css": "graphiql.css",
}

EXPLORE_TAB: Final = """\
# Personalisation gateway — GraphiQL
#
# Build a query by clicking fields in the Explorer (left), then run it (▶ or Ctrl-Enter).
# The next tabs are the operations the apps ship (schema/operations/), with example
# variables. Headers (below) carry a demo viewer's token outside production: remove it to
# see the anonymous, non-personalised page.

query Explore {
  __typename
}
"""


@dataclass(frozen=True)
class Tab:
    """One GraphiQL tab: a document, its variables and headers (JSON text)."""

    query: str
    variables: str | None = None
    headers: str | None = None


class GraphiQLAssetsMissingError(RuntimeError):
    """``gateway/graphiql/dist`` lacks the bundle: run ``make assets``."""


def missing_assets(dist: Path | None = None) -> list[Path]:
    """The bundle files that are not built (empty when all are present)."""
    root = dist or DIST
    return [root / rel for rel in ASSETS.values() if not (root / rel).is_file()]


def _script_json(value: object) -> str:
    """JSON safe to embed inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    return (
        json.dumps(value)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


@functools.cache
def _operation_tabs() -> tuple[tuple[str, str | None], ...]:
    """Each shipped operation as sent, with its example variables (read once)."""
    from schema.operations import operation_document, operation_examples, operation_files

    examples = operation_examples()
    return tuple(
        (
            operation_document(path),
            json.dumps(examples[path.name], indent=2) if path.name in examples else None,
        )
        for path in operation_files()
    )


def shipped_tabs(headers: str | None = None) -> list[Tab]:
    """The explore tab, then one tab per shipped operation with its example variables."""
    return [
        Tab(EXPLORE_TAB, None, headers),
        *(Tab(query, variables, headers) for query, variables in _operation_tabs()),
    ]


def demo_headers(token: str | None) -> str | None:
    """The headers editor's text for a bearer token (None: no token, empty editor)."""
    if token is None:
        return None
    return json.dumps({"Authorization": f"Bearer {token}"}, indent=2)


def _version(dist: Path) -> str:
    """A short hash of the bundle, appended to its URLs so a rebuild is never served stale."""
    digest = hashlib.sha256()
    for rel in sorted(ASSETS.values()):
        path = dist / rel
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


_MISSING_PAGE: Final = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>GraphiQL assets not built</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem; max-width: 40rem">
<h1>GraphiQL is not built</h1>
<p>The gateway serves GraphiQL from a bundle built at set-up, which is missing. From the
project directory, <strong>run <code>make assets</code></strong> (<code>npm ci</code> and
<code>npm run build</code> in <code>gateway/graphiql/</code>), then reload this page.</p>
<p>The GraphQL endpoint itself works: POST queries to <code>{endpoint}</code>.</p>
</body>
</html>
"""

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Personalisation gateway · GraphiQL</title>
<link rel="stylesheet" href="{prefix}/graphiql.css?v={version}">
<style>
  html, body {{ height: 100%; margin: 0; }}
  #graphiql {{ height: 100vh; }}
</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="pgw-graphiql-config" type="application/json">{config}</script>
<script src="{prefix}/graphiql.js?v={version}"></script>
</body>
</html>
"""


def graphiql_html(
    endpoint: str = "/graphql",
    assets_prefix: str = "/graphiql/assets",
    *,
    tabs: list[Tab] | None = None,
    headers: str | None = None,
    dist: Path | None = None,
) -> str:
    """The GraphiQL page: loads only the bundle under ``assets_prefix``.

    Args:
        endpoint: the GraphQL endpoint the page queries.
        assets_prefix: where ``mount_graphiql_assets`` serves the bundle.
        tabs: the tabs it opens with (default: :func:`shipped_tabs` with ``headers``).
        headers: the headers editor's text for new tabs (a demo token outside production).
        dist: the bundle's directory (default ``DIST``).
    """
    root = dist or DIST
    if missing_assets(root):
        return _MISSING_PAGE.format(endpoint=html.escape(endpoint))
    opened = tabs if tabs is not None else shipped_tabs(headers)
    listed = [{"query": t.query, "variables": t.variables, "headers": t.headers} for t in opened]
    config = {
        "endpoint": endpoint,
        "tabs": listed,
        "defaultHeaders": headers,
        # GraphiQL keeps tabs in localStorage: a new set of operations gets a new namespace
        "storageNamespace": hashlib.sha256(json.dumps(listed).encode()).hexdigest()[:12],
    }
    return _PAGE.format(
        prefix=html.escape(assets_prefix.rstrip("/"), quote=True),
        version=_version(root),
        config=_script_json(config),
    )


class _AllowListStaticFiles(StaticFiles):
    """``StaticFiles`` over the bundle that answers only for the allow-listed files."""

    def __init__(self, directory: Path, allowed: dict[str, str]) -> None:
        super().__init__(directory=directory, check_dir=False, follow_symlink=False)
        self.allowed = dict(allowed)
        self.installed = not missing_assets(directory)

    async def check_config(self) -> None:
        """Missing assets are reported per request (404 + hint), not as a crash."""
        if self.installed:
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        relative = self.allowed.get(path)
        if relative is None:
            raise HTTPException(status_code=404)
        if not self.installed:
            raise HTTPException(
                status_code=404, detail="GraphiQL assets are not built: run `make assets`"
            )
        response = await super().get_response(relative, scope)
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def mount_graphiql_assets(
    app: FastAPI,
    prefix: str = "/graphiql/assets",
    *,
    dist: Path | None = None,
    strict: bool = False,
) -> None:
    """Serve the GraphiQL bundle under ``prefix`` (and nothing else).

    Args:
        app: the gateway app.
        prefix: URL path the page's ``assets_prefix`` points at.
        dist: where ``npm run build`` wrote the bundle (default: ``DIST``).
        strict: raise :class:`GraphiQLAssetsMissingError` when files are missing instead of
            logging a warning (the page then tells the user to run ``make assets``).
    """
    root = dist or DIST
    missing = missing_assets(root)
    if missing:
        message = (
            "GraphiQL assets are not built (missing: "
            + ", ".join(str(p) for p in missing)
            + "); run `make assets` (npm ci and npm run build in gateway/graphiql)"
        )
        if strict:
            raise GraphiQLAssetsMissingError(message)
        log.warning(message)
    app.mount(prefix.rstrip("/"), _AllowListStaticFiles(root, ASSETS), name="graphiql-assets")
