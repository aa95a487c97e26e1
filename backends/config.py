"""Settings shared by the reference backends: ports, seed, cache location.

Kept in one tiny module with no heavy imports so the CLI, the stack helper and every
backend agree on defaults without importing numpy or FastAPI just to read a port number.
"""

from __future__ import annotations

import os
from pathlib import Path

from clients.contracts.ports import BACKEND_NAMES, REFERENCE_PORTS

#: Backend names in start order, and their ports (DESIGN §7), shared with the gateway.
__all__ = ["BACKEND_NAMES", "PROJECT_ROOT", "REFERENCE_PORTS", "demo_seed"]

#: Project root (the directory holding ``pyproject.toml``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def demo_seed() -> int:
    """The dataset seed; ``PGW_DEMO_SEED`` overrides it so tests can use another world."""
    return int(os.environ.get("PGW_DEMO_SEED", "42"))


def cache_root() -> Path:
    """Where the generated dataset and trained models are cached between processes.

    ``PGW_DEMO_CACHE_DIR`` overrides the default ``<project>/.cache`` (e.g. in containers
    with a read-only source tree).
    """
    override = os.environ.get("PGW_DEMO_CACHE_DIR")
    return Path(override) if override else PROJECT_ROOT / ".cache"
