"""The five backends by name, and the ports the reference backends listen on by default.

One map for everyone who needs it: the reference backends (``python -m backends serve``),
the gateway's default backend URLs (``gateway/settings.py``), ``python -m gateway demo`` and
the tests. The Compose file and the Kubernetes demo overlay spell the same ports out in
YAML; ``tests/test_deploy_files.py`` checks them against this map.
"""

from __future__ import annotations

__all__ = ["BACKEND_NAMES", "REFERENCE_PORTS", "reference_url"]

#: Backend names in start order, with their default ports.
REFERENCE_PORTS: dict[str, int] = {
    "catalog": 8101,
    "retrieval": 8102,
    "ranking": 8103,
    "bandit": 8104,
    "popularity": 8105,
}
BACKEND_NAMES: tuple[str, ...] = tuple(REFERENCE_PORTS)


def reference_url(name: str, host: str = "127.0.0.1") -> str:
    """The base URL of reference backend ``name`` on its default port."""
    return f"http://{host}:{REFERENCE_PORTS[name]}"
