"""Driving Debian's Chromium (``make browser`` installs it) through the ``playwright`` package
with no internet: every request beyond loopback is aborted and recorded, so a page that
needs a CDN fails its test. ``playwright install`` is never needed."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1"}
NON_NETWORK_SCHEMES = {"data", "blob", "about", "chrome-error"}


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in NON_NETWORK_SCHEMES:
        return True
    return parts.hostname in LOCAL_HOSTS


def chromium_path() -> Path:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    return CHROMIUM


@dataclass
class Seen:
    """What the page asked for, what was blocked, and its uncaught errors."""

    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def offline_page(width: int = 1440, height: int = 900) -> Iterator[tuple[Any, Seen]]:
    """A page in a fresh profile whose requests beyond loopback are aborted and recorded."""
    from playwright.sync_api import Request as BrowserRequest
    from playwright.sync_api import Route, sync_playwright

    seen = Seen()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                service_workers="block", viewport={"width": width, "height": height}
            )

            def guard(route: Route, request: BrowserRequest) -> None:
                if is_local(request.url):
                    route.continue_()
                else:
                    seen.foreign.append(request.url)
                    route.abort("blockedbyclient")

            context.route("**/*", guard)
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.on("request", lambda request: seen.requests.append(request.url))
            page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
            yield page, seen
            context.close()
        finally:
            browser.close()
