"""Preview server: time from saving a story to the server answering with the changed page.

    python -m benchmarks.preview [--sizes 1000,10000] [--repeat 3] [--seed 2021]

Starts ``gazette serve --port 0`` on a generated archive, waits for the first build, then
``--repeat`` times: appends a correction to one story (a different one each time), and polls
that story's page every 10 ms until the served HTML contains the correction. The figure is
the time from the file being written to the first response that shows the change: the
watcher's debounce, the rebuild and the swap, everything but the browser's own reload
(which the injected script triggers as soon as the rebuild is live).

With ``--browser``, the story is open in headless Chromium instead (Debian's, driven by
Playwright, as the browser tests are) and the figure is the time from the file being
written to the open tab, reloaded by the injected script, painting the corrected page: what
a curator sees. The paint's time is the browser's own (its first contentful paint, on the
clock this machine shares), so Playwright's polling of the page adds nothing to it.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.compare import gazette_builder, prepare_sites
from benchmarks.measure import CHROMIUM, CHROMIUM_ARGS, BenchmarkError, machine, table
from benchmarks.run import EDIT_STRIDE, add_corpus_options, edit_story

POLL_SECONDS = 0.01
SETTLE_SECONDS = 1.0
SERVING = re.compile(r"Serving (http://\S+)")


@dataclass(frozen=True, slots=True)
class PreviewResult:
    size: int
    first_build: float
    """Seconds from starting the server to it serving the site."""
    save_to_served: float
    """Median seconds from a save to the changed page being served."""
    runs: int


def measure_preview(size: int, seed: int, repeats: int, workdir: Path | None,
                    timeout: float = 900.0, chromium: Any = None) -> PreviewResult:
    """``chromium``: a Playwright browser to watch the page in (``--browser``), else the
    page is polled over HTTP."""
    from builder import urls
    from builder.config import load_config
    from builder.ingest import read_file

    with tempfile.TemporaryDirectory(prefix="gazette-preview-", dir=workdir) as tmp:
        root = Path(tmp)
        prepare_sites(root, size, seed, ["gazette"])
        command = [*gazette_builder(root).command[:-1], "serve", "--port", "0"]
        started = time.perf_counter()
        server = subprocess.Popen(command, cwd=root, env=gazette_builder(root).env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        try:
            base = _wait_for_url(server, timeout)
            first_build = time.perf_counter() - started
            config = load_config(root)
            stories = sorted(config.content_path.rglob("*.txt"))
            times = []
            for i in range(repeats):
                path = stories[(i * EDIT_STRIDE) % len(stories)]
                (story,) = read_file(path, config).stories
                url = base + urls.story_path(story, config).lstrip("/")
                marker = f"Correction {i + 1}:"
                if marker in _get(url):
                    raise BenchmarkError(f"{url} already shows {marker!r}")
                tab = _open(chromium, url) if chromium else None
                edit_story(path, i + 1)
                times.append(_until_painted(tab, url, marker, timeout) if tab is not None
                             else _until_served(url, marker, timeout))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return PreviewResult(size, first_build, statistics.median(times), repeats)


@contextlib.contextmanager
def _chromium() -> Iterator[Any]:
    """Headless Chromium (Debian's) under Playwright, as the browser tests run it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BenchmarkError("--browser needs Playwright: pip install -e '.[test]'") from None
    if not CHROMIUM.exists():
        raise BenchmarkError(f"--browser needs Chromium at {CHROMIUM}: make chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


def _until_served(url: str, marker: str, timeout: float) -> float:
    """Seconds from now until ``url`` is served with ``marker`` in it."""
    saved = time.perf_counter()
    while marker not in _get(url):
        if time.perf_counter() - saved > timeout:
            raise BenchmarkError(f"{url} did not show the edit in {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - saved


def _until_painted(tab: Any, url: str, marker: str, timeout: float) -> float:
    """Seconds from now until the ``tab`` on ``url``, reloaded, paints ``marker``."""
    saved = time.time()
    try:
        tab.wait_for_function(f"document.body && document.body.innerText.includes({marker!r})",
                              polling=POLL_SECONDS * 1000, timeout=timeout * 1000)
        return tab.evaluate(_PAINTED) / 1000 - saved
    except Exception as exc:  # noqa: BLE001 - Playwright's timeout, say
        raise BenchmarkError(f"the tab on {url} did not show the edit: {exc}") from None
    finally:
        tab.close()


_PAINTED = """() => {
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  const loaded = performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd;
  return performance.timeOrigin + (paint ? paint.startTime : loaded);
}"""
"""When the page in a tab was first painted (else parsed), in ms since 1970."""


def _open(chromium: Any, url: str) -> Any:
    """A tab showing ``url``, loaded, its live-reload channel connected, and left alone for
    :data:`SETTLE_SECONDS`: a page a curator reads while editing its story, not one the
    browser is still busy with (on two cores, Chromium finishing a page it has just loaded
    delays the rebuild by 0.1-0.2 s)."""
    tab = chromium.new_page()
    with tab.expect_response(lambda response: "/_gazette/events" in response.url):
        tab.goto(url, wait_until="load")
    time.sleep(SETTLE_SECONDS)
    return tab


def _wait_for_url(server: subprocess.Popen, timeout: float) -> str:
    """The URL the server prints once its first build is live."""
    found: list[str] = []

    def read() -> None:
        for line in server.stdout:
            match = SERVING.search(line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        raise BenchmarkError(f"gazette serve printed no 'Serving URL' line in {timeout:.0f} s "
                             f"(exit code {server.poll()})")
    return found[0] if found[0].endswith("/") else found[0] + "/"


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"


def report(results: list[PreviewResult], log_context: str, browser: bool = False) -> str:
    rows = [[f"{r.size:,}", f"{r.first_build:.2f} s", f"{r.save_to_served:.3f} s", str(r.runs)]
            for r in results]
    shown = ("save to the open tab showing the change, in Chromium (median)" if browser
             else "save to changed page served (median)")
    return "\n".join([f"gazette serve, {log_context}", "",
                      table(["stories", "first build (start to serving)", shown, "edits"], rows),
                      "", "Target (issue 4, 10,000 stories): the page shows the change <= 0.3 s "
                          "after the save is noticed; `hugo server` 2.8 s."])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.preview", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_options(parser, "edits per size (default: 3)")
    parser.add_argument("--browser", action="store_true",
                        help="measure until the page open in headless Chromium shows the edit")
    args = parser.parse_args(argv)
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    results = []
    try:
        with _chromium() if args.browser else contextlib.nullcontext() as chromium:
            for size in args.sizes:
                log(f"{size:,} stories: starting gazette serve …")
                try:
                    results.append(measure_preview(size, args.seed, args.repeat, args.workdir,
                                                   chromium=chromium))
                except BenchmarkError as exc:
                    log(f"{size:,} stories: FAILED: {exc}")
    except BenchmarkError as exc:
        log(f"FAILED: {exc}")
    print(report(results, f"{args.repeat} edits per size, {machine()}", args.browser))
    return 0 if len(results) == len(args.sizes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
