"""GraphiQL, served by the gateway itself: no CDN, no internet at page load.

The browser assets come from the npm registry at set-up (``make assets`` runs ``npm ci`` in
``gateway/graphiql/``, pinned by its ``package-lock.json``) and are served from
``/graphiql/assets``. Only the four UMD files GraphiQL needs are reachable there (an
allow-list), never the rest of ``node_modules``.

``graphiql_html()`` is the page a browser gets on ``GET /graphql`` (the Strawberry router's
``render_graphql_ide`` returns it); ``mount_graphiql_assets(app)`` serves the files. With the
assets missing, the gateway still starts: the page then says to run ``make assets``.
"""

from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

log = logging.getLogger("gateway.graphiql")

#: ``gateway/graphiql/node_modules``; ``PGW_GRAPHIQL_ASSETS_DIR`` overrides it (e.g. images).
NODE_MODULES: Final = Path(
    os.environ.get("PGW_GRAPHIQL_ASSETS_DIR")
    or Path(__file__).with_name("graphiql") / "node_modules"
)

#: The only files served: URL name under the prefix -> path inside ``node_modules``.
ASSETS: Final[dict[str, str]] = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
}

DEFAULT_QUERY: Final = """\
# Personalisation gateway: the discovery surface.
# Anonymous by default (non-personalised content).
# Personalised: in Headers below, add a demo token
#   {"Authorization": "Bearer <token>"}
# from: python -m gateway token u0042
# Run it with the play button or Ctrl-Enter.

query Discovery {
  discovery(location: {lat: 60.1699, lon: 24.9384}) {
    requestId
    degraded
    sections {
      __typename
      id
      title
      source
      trackingId
      ... on VenueCarousel {
        venues { id name rating deliveryMinutes isOpen reason }
      }
      ... on ItemCarousel {
        items { id name price { amount currency } }
      }
      ... on CategoryTiles { categories { slug name } }
      ... on BannerCarousel { banners { id title } }
      ... on BrandCarousel { brands { id name } }
    }
  }
}
"""


class GraphiQLAssetsMissingError(RuntimeError):
    """``gateway/graphiql/node_modules`` lacks the GraphiQL files: run ``make assets``."""


def missing_assets(node_modules: Path | None = None) -> list[Path]:
    """The allow-listed asset files that are not installed (empty when all are present)."""
    root = node_modules or NODE_MODULES
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


_MISSING_PAGE: Final = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>GraphiQL assets not installed</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem; max-width: 40rem">
<h1>GraphiQL is not installed</h1>
<p>The gateway serves GraphiQL from local files, which are missing. From the project
directory, <strong>run <code>make assets</code></strong> (it runs <code>npm ci</code> in
<code>gateway/graphiql/</code>), then reload this page.</p>
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
<link rel="stylesheet" href="{prefix}/graphiql.min.css">
<style>
  html, body {{ height: 100%; margin: 0; }}
  #graphiql {{ height: 100vh; }}
</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{prefix}/react.production.min.js"></script>
<script src="{prefix}/react-dom.production.min.js"></script>
<script src="{prefix}/graphiql.min.js"></script>
<script>
(function () {{
  var config = {config};
  var url = new URL(config.endpoint, window.location.href).toString();
  var fetcher = GraphiQL.createFetcher({{ url: url }});
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {{
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      defaultHeaders: config.defaultHeaders,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    }})
  );
}})();
</script>
</body>
</html>
"""


def graphiql_html(endpoint: str = "/graphql", assets_prefix: str = "/graphiql/assets") -> str:
    """The GraphiQL page: loads only the local assets under ``assets_prefix``.

    Opens with a discovery query and the headers editor visible (for the bearer token).
    When the assets are not installed it returns a page saying to run ``make assets``.
    """
    if missing_assets():
        return _MISSING_PAGE.format(endpoint=html.escape(endpoint))
    config = {"endpoint": endpoint, "defaultQuery": DEFAULT_QUERY, "defaultHeaders": "{}"}
    return _PAGE.format(
        prefix=html.escape(assets_prefix.rstrip("/"), quote=True),
        config=_script_json(config),
    )


class _AllowListStaticFiles(StaticFiles):
    """``StaticFiles`` over ``node_modules`` that answers only for the allow-listed files."""

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
                status_code=404, detail="GraphiQL assets are not installed: run `make assets`"
            )
        response = await super().get_response(relative, scope)
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def mount_graphiql_assets(
    app: FastAPI,
    prefix: str = "/graphiql/assets",
    *,
    node_modules: Path | None = None,
    strict: bool = False,
) -> None:
    """Serve the four GraphiQL files under ``prefix`` (and nothing else from node_modules).

    Args:
        app: the gateway app.
        prefix: URL path the page's ``assets_prefix`` points at.
        node_modules: where ``npm ci`` installed the packages (default: ``NODE_MODULES``).
        strict: raise :class:`GraphiQLAssetsMissingError` when files are missing instead of
            logging a warning (the page then tells the user to run ``make assets``).
    """
    root = node_modules or NODE_MODULES
    missing = missing_assets(root)
    if missing:
        message = (
            "GraphiQL assets are not installed (missing: "
            + ", ".join(str(p) for p in missing)
            + "); run `make assets` (npm ci in gateway/graphiql)"
        )
        if strict:
            raise GraphiQLAssetsMissingError(message)
        log.warning(message)
    app.mount(prefix.rstrip("/"), _AllowListStaticFiles(root, ASSETS), name="graphiql-assets")
