"""The demo's signing key: generated once on first start, kept in ``.cache/``.

The demo must work with no setup, yet must not ship a key anyone could copy into production:
so the key is random per checkout, and production settings refuse it (see settings).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEMO_SECRET_PATH = Path(os.environ.get("PGW_DEMO_SECRET_FILE", ".cache/demo-jwt-secret"))


def demo_secret(path: Path = DEMO_SECRET_PATH) -> str:
    """The demo HS256 secret, created on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.write_text(secret, encoding="utf-8")
    path.chmod(0o600)
    return secret
