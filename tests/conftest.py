"""Fixtures shared by several test files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.measure import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium for the ``browser`` tests: skipped locally when missing, but a
    failure in CI (``CI`` set), where a missing browser must not pass silently."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing (install Debian's chromium, e.g. `make chromium`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the session, driven by Playwright."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium_path), headless=True,
                                              args=list(CHROMIUM_ARGS))
        yield launched
        launched.close()
