"""Regenerate the screenshots in docs/screenshots/ from the sample archive.

    PYTHONPATH=. python docs/screenshots.py [--root .] [--out docs/screenshots]

Builds the project at ``--root`` with the default theme into a temporary directory, serves
it on 127.0.0.1 and photographs it with headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright): the seed story in light and dark mode on a phone (390×844) and a
desktop (1280×800) viewport, one of its tag pages, and the search page with a query.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

from builder import ingest, pipeline, urls
from builder.config import load_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SEED_ID = "a203978440becfc5"
SEARCH_QUERY = "Erdogan"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def _listening(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free 127.0.0.1 port; yields the origin URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(_QuietHandler, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def shots(story: str, tag: str) -> list[tuple[str, str, str, str]]:
    """(file name, site path, viewport, colour scheme) of every screenshot."""
    story_shots = [(f"story-{viewport}-{scheme}.png", story, viewport, scheme)
                   for viewport in VIEWPORTS for scheme in ("light", "dark")]
    return [*story_shots,
            ("tag-desktop-light.png", tag, "desktop", "light"),
            ("search-desktop-light.png", f"/search/?q={SEARCH_QUERY}", "desktop", "light")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project root (default: .)")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"),
                        help="folder for the PNG files (default: docs/screenshots)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, _listening(Path(scratch)) as origin:
        config = load_config(args.root).replace(base_url=origin + "/", output_dir=scratch)
        pipeline.build(config, jobs=1)
        seed = next((story for path in ingest.discover([config.content_path], config)
                     for story in ingest.read_file(path, config).stories
                     if story.id == SEED_ID), None)
        if seed is None:
            print(f"no seed story {SEED_ID} in {config.content_path}", file=sys.stderr)
            return 1
        story = urls.story_path(seed, config)
        page_html = (Path(scratch) / urls.output_path(story)).read_text(encoding="utf-8")
        tag = re.search(r'href="(/tags/[^"/]+/)"', page_html).group(1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, path, viewport, scheme in shots(story, tag):
                context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=scheme)
                page = context.new_page()
                page.goto(origin + path, wait_until="networkidle")
                page.screenshot(path=args.out / name)
                context.close()
                print(args.out / name)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
