"""The preview as a curator sees it: a real build, a real server and headless Chromium.

Browser tests run ``gazette serve --port 0`` in a subprocess on a small temporary archive
and drive Chromium through Playwright; they are marked ``browser`` and need
/usr/bin/chromium (see the ``browser`` fixture in conftest.py). The byte-for-byte test
needs no browser: it compares what the preview serves with a fresh full build.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from builder import urls
from builder.config import load_config
from builder.serve import PreviewServer

REPO = Path(__file__).resolve().parents[1]
LIVERELOAD = re.compile(rb"<script data-gazette-livereload[^>]*>.*?</script>", re.S)
RELOAD_TIMEOUT_MS = 15_000


def story(title: str, date: str = "2024-03-01", tags: tuple[str, ...] = ("Energy",),
          body: str = "", slug: str = "") -> str:
    """A story file; a fixed ``slug`` keeps its URL when the title is edited. The body
    differs per title, or the build would publish stories with equal text only once."""
    body = body or f"What happened: {title.lower()}, reported in full."
    tag_list = ", ".join(f'"{tag}"' for tag in tags)
    slug_line = f"slug: {slug}\n" if slug else ""
    return (f'---\ntitle: "{title}"\ndate: {date}\ntags: [{tag_list}]\n{slug_line}---\n\n'
            f"{body}\n")


def make_archive(root: Path) -> Path:
    (root / "content" / "world").mkdir(parents=True)
    (root / "content" / "business").mkdir()
    (root / "gazette.toml").write_text('title = "Test Gazette"\n'
                                       'base_url = "https://example.org/news/"\n'
                                       "search = false\n")
    (root / "content" / "world" / "summit.md").write_text(
        story("Leaders meet at the summit", "2024-03-01", ("Diplomacy", "Energy")))
    (root / "content" / "business" / "oil-deal.md").write_text(
        story("Oil deal signed", "2024-03-02", ("Energy",), slug="oil-deal"))
    (root / "content" / "business" / "markets.md").write_text(
        story("Markets close higher", "2024-03-03", ("Markets",)))
    return root


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def served(tmp_path):
    """``gazette serve --port 0`` on a small archive: yields (project root, site URL)."""
    root = make_archive(tmp_path / "archive")
    process = subprocess.Popen(
        [sys.executable, "-m", "builder", "--root", str(root), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    line = process.stdout.readline()
    match = re.match(r"Serving (http://\S+) ", line)
    if not match:
        process.kill()
        pytest.fail(f"gazette serve printed no URL: {line!r}\n{process.communicate()[1]}")
    yield root, match.group(1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in stderr, stderr


@pytest.fixture
def page(browser):
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(RELOAD_TIMEOUT_MS)
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.dialogs = dialogs
    yield opened
    context.close()


def story_url(page, site_url: str, title: str) -> str:
    """Find a story the way a reader does: by its link on the home page."""
    page.goto(site_url)
    page.get_by_role("link", name=title).first.click()
    page.wait_for_load_state()
    return page.url


@pytest.mark.browser
def test_edits_reload_the_page_and_errors_show_in_an_overlay(served, page):
    root, site_url = served
    url = story_url(page, site_url, "Oil deal signed")
    source = root / "content" / "business" / "oil-deal.md"
    overlay = page.locator("#gazette-error-overlay")

    saved = time.monotonic()
    source.write_text(story("Oil deal signed at last", "2024-03-02", slug="oil-deal"))
    page.get_by_role("heading", name="Oil deal signed at last").wait_for()
    print(f"save → reloaded page: {time.monotonic() - saved:.2f} s")
    assert page.url == url

    source.write_text(story("Oil deal signed at last", "45 Smarch 2024", slug="oil-deal"))
    overlay.locator(".where").wait_for()
    assert "content/business/oil-deal.md" in overlay.locator(".where").first.text_content()
    assert overlay.locator(".message").first.text_content()

    source.write_text(story("Oil deal signed, fixed", "2024-03-02", slug="oil-deal"))
    page.get_by_role("heading", name="Oil deal signed, fixed").wait_for()
    overlay.wait_for(state="detached")
    assert page.url == url and page.dialogs == []


@pytest.mark.browser
def test_added_story_appears_on_home_and_tag_page_and_leaves_when_deleted(served, page):
    root, site_url = served
    tag_url = site_url.rstrip("/") + urls.term_path("tags", urls.slugify("Energy"))
    home = page
    home.goto(site_url)
    tag_page = home.context.new_page()
    tag_page.set_default_timeout(RELOAD_TIMEOUT_MS)
    tag_page.goto(tag_url)
    assert home.get_by_role("link", name="Refinery opens").count() == 0

    new_story = root / "content" / "business" / "refinery.md"
    new_story.write_text(story("Refinery opens", "2024-03-05", ("Energy",)))
    for tab in (home, tag_page):  # neither tab is reloaded by hand
        tab.get_by_role("link", name="Refinery opens").first.wait_for()
    href = home.get_by_role("link", name="Refinery opens").first.get_attribute("href")
    new_url = urllib.parse.urljoin(site_url, href)
    assert fetch(new_url)[0] == 200

    new_story.unlink()
    for tab in (home, tag_page):
        tab.get_by_role("link", name="Refinery opens").first.wait_for(state="detached")
    assert fetch(new_url)[0] == 404
    assert b"Refinery opens" not in fetch(site_url)[1]
    assert b"Refinery opens" not in fetch(tag_url)[1]


@pytest.mark.browser
def test_the_overlay_shows_hostile_text_without_running_it(served, page):
    root, site_url = served
    page.goto(site_url)
    hostile = root / "content" / "world" / "hostile.md"
    hostile.write_text('---\ntitle: "<script>alert(1)</script>"\n'
                       'date: "<script>alert(2)</script><img src=x onerror=alert(3)>"\n'
                       "---\n\nbody\n")
    overlay = page.locator("#gazette-error-overlay")
    overlay.locator(".where").wait_for()
    shown = overlay.locator("section").text_content()
    assert "content/world/hostile.md" in shown
    assert "<script>alert(2)</script><img src=x onerror=alert(3)>" in shown  # as text
    page.wait_for_timeout(300)  # give any injected handler the chance to fire
    assert page.dialogs == []
    assert page.locator("#gazette-error-overlay img").count() == 0
    hostile.unlink()
    overlay.wait_for(state="detached")


def test_the_preview_equals_a_fresh_full_build_after_edits_renames_and_deletions(tmp_path,
                                                                               monkeypatch):
    from builder.pipeline import build

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1709251200")
    root = make_archive(tmp_path / "archive")
    content = root / "content"
    steps = [
        lambda: (content / "world" / "summit.md").write_text(
            story("Leaders meet at the summit", "2024-03-01", ("Diplomacy", "Oil"))),  # tag renamed
        lambda: (content / "business" / "oil-deal.md").rename(content / "world" / "oil-deal.md"),
        lambda: (content / "business" / "trade.md").write_text(story("Trade talks", "2024-03-04")),
        lambda: (content / "business" / "markets.md").unlink(),
        lambda: (content / "business" / "trade.md").rename(content / "business" / "trade-talks.md"),
        lambda: (content / "world" / "oil-deal.md").write_text(
            story("Oil deal signed", "2024-02-28", ("Energy", "Baku"), body="New *text*.")),
    ]
    with PreviewServer(load_config(root), port=0, out=open(os.devnull, "w")) as preview:
        for number, step in enumerate(steps, start=2):
            step()
            deadline = time.monotonic() + 30
            while preview.hub.state.generation < number:
                assert time.monotonic() < deadline, "the preview did not rebuild"
                time.sleep(0.02)
            assert preview.hub.state.problems == ()
        served_config = preview.hub.state.config
        fresh = served_config.replace(output_dir=str(tmp_path / "fresh"),
                                      cache_dir=str(tmp_path / "fresh-cache"))
        build(fresh, strict=True)
        expected = {p.relative_to(fresh.output_path): p.read_bytes()
                    for p in sorted(fresh.output_path.rglob("*")) if p.is_file()}
        previewed = {p.relative_to(served_config.output_path)
                     for p in served_config.output_path.rglob("*") if p.is_file()}
        assert previewed == set(expected)
        assert any(p.suffix == ".html" for p in expected)
        for relative, built in expected.items():
            status, body = fetch(preview.url + relative.as_posix())
            assert status == 200, relative
            assert LIVERELOAD.sub(b"", body) == built, relative


@pytest.mark.browser
def test_many_open_tabs_all_load_and_all_reload(served, page):
    """Browsers allow about six connections per server: a reload channel held by every tab
    would leave the seventh unable to load."""
    root, site_url = served
    tabs = [page, *(page.context.new_page() for _ in range(8))]
    for tab in tabs:
        tab.set_default_timeout(RELOAD_TIMEOUT_MS)
        tab.goto(site_url)
        tab.get_by_role("link", name="Markets close higher").first.wait_for()
    (root / "content" / "business" / "markets.md").write_text(
        story("Markets close lower", "2024-03-03", ("Markets",)))
    for tab in tabs:
        tab.get_by_role("link", name="Markets close lower").first.wait_for()
