"""Reader experience, measured (issue 8): Lighthouse, axe-core, keyboard, weight and print.

The sample archive (``content/`` and ``gazette.toml`` at the repository root) is built
with the default theme into a temporary directory, served by a plain ``http.server`` on
127.0.0.1, and audited page by page: the home page, the seed story, and the tag, topic,
source and month-archive pages the seed story links to, plus the search and 404 pages.

Tools: Lighthouse and axe-core come from npm, pinned in package.json/package-lock.json
(``npm ci``); the browser is Debian's Chromium (/usr/bin/chromium), driven by Lighthouse
itself and by Playwright. When a tool is missing the module is skipped locally but fails
in CI (``CI`` set), where a missing tool must never pass silently.

Set ``GAZETTE_AUDIT_RESULTS=path.json`` to keep every page's scores and axe results (the
table in README.md, "Reader experience, measured", is made from that file).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.measure import CHROMIUM
from builder import ingest, pipeline, urls
from builder.config import SiteConfig, load_config
from builder.discover import story_files
from builder.model import Story

pytestmark = pytest.mark.audit

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = Path(os.environ.get("GAZETTE_AUDIT_ROOT", REPO))
"""The project whose site is audited: this repository's sample archive unless
``GAZETTE_AUDIT_ROOT`` names another (to audit a theme on one's own archive)."""
LIGHTHOUSE_CLI = REPO / "node_modules" / "lighthouse" / "cli" / "index.js"
AXE_SCRIPT = REPO / "node_modules" / "axe-core" / "axe.min.js"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run")
SEED_ID = "a203978440becfc5"
"""The seed story (content/…/000_a203978440becfc5.txt): the story page every audit uses."""

MINIMUM_SCORE = {"accessibility": 1.0, "best-practices": 1.0, "seo": 1.0, "performance": 0.95}
STORY_WEIGHT_LIMIT = 30 * 1024
"""Bytes, gzip-compressed, of a story page's HTML plus its stylesheets."""
LIGHTHOUSE_TIMEOUT_S = 180
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000

PAGE_KINDS = ("home", "story", "tag", "topic", "source", "month", "search", "404")


# -- tools -------------------------------------------------------------------------------

def _missing_tools() -> list[str]:
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian's chromium)")
    if not shutil.which("node"):
        missing.append("node")
    if not LIGHTHOUSE_CLI.is_file() or not AXE_SCRIPT.is_file():
        missing.append("node_modules/lighthouse and node_modules/axe-core (run `npm ci`)")
    try:
        import playwright.sync_api  # noqa: F401  (only whether it is installed matters)
    except ImportError:
        missing.append("the playwright Python package")
    return missing


@pytest.fixture(scope="module", autouse=True)
def audit_tools() -> None:
    missing = _missing_tools()
    if missing:
        message = "audit tools missing: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


# -- the site under audit ----------------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output for the findings
        pass


@dataclass(frozen=True, slots=True)
class AuditedSite:
    """The built sample archive, being served."""

    origin: str
    """``http://127.0.0.1:<port>``, the site's base URL without the final slash."""
    output: Path
    config: SiteConfig
    seed: Story
    pages: dict[str, str]
    """Page kind → site path, e.g. ``"tag"`` → ``/tags/russia/``."""

    def url(self, kind_or_path: str) -> str:
        """The served URL of a page kind or site path, which the build must have written."""
        path = self.pages.get(kind_or_path, kind_or_path)
        written = (self.output / urls.output_path(path)).is_file()
        assert written, f"the build wrote no {kind_or_path} page at {path}"
        return self.origin + path


@contextlib.contextmanager
def _listening(directory: Path) -> Iterator[ThreadingHTTPServer]:
    """A static file server for ``directory`` on a free 127.0.0.1 port, in a thread."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _read_stories(config: SiteConfig) -> list[Story]:
    paths = story_files([config.content_path], config)
    return [story for path in paths for story in ingest.read_file(path, config).stories
            if not story.draft]


def _linked_page(html: str, folder: str) -> str:
    """The first link of the story page into ``/folder/<slug>/``, as a site path."""
    match = re.search(rf'href="(/{folder}/[^"/]+/)"', html)
    assert match, f"the seed story's page links to no /{folder}/ page"
    return match.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[AuditedSite]:
    """The sample archive built for ``http://127.0.0.1:<port>/`` and served there.

    The port is bound before the build so canonical and feed URLs point at the server,
    as they would at the real host.
    """
    output = tmp_path_factory.mktemp("audited") / "site"
    output.mkdir()
    with _listening(output) as httpd:
        origin = f"http://127.0.0.1:{httpd.server_address[1]}"
        config = load_config(ARCHIVE).replace(base_url=origin + "/", output_dir=str(output))
        result = pipeline.build(config, jobs=1)
        assert not result.skipped, [str(d) for d in result.skipped]
        stories = _read_stories(config)
        seeds = [s for s in stories if s.id == SEED_ID]
        assert seeds, f"the sample archive in {config.content_path} has no seed story {SEED_ID}"
        seed = seeds[0]
        story_page = urls.story_path(seed, config)
        seed_html = (output / urls.output_path(story_page)).read_text(encoding="utf-8")
        pages = {
            "home": "/",
            "story": story_page,
            "tag": _linked_page(seed_html, "tags"),
            "topic": _linked_page(seed_html, "topics"),
            "source": _linked_page(seed_html, "sources"),
            "month": urls.archive_path(seed.date.year, seed.date.month),
            "search": "/search/",
            "404": "/404.html",
        }
        yield AuditedSite(origin, output, config, seed, pages)


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, dict]]:
    """Page kind → what was measured; written to ``GAZETTE_AUDIT_RESULTS`` when set."""
    found: dict[str, dict] = {}
    yield found
    target = os.environ.get("GAZETTE_AUDIT_RESULTS")
    if target and found:
        chromium = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True)
        versions = {"lighthouse": _tool_version("lighthouse"),
                    "axe-core": _tool_version("axe-core"), "chromium": chromium.stdout.strip()}
        Path(target).write_text(json.dumps({"versions": versions, "pages": found}, indent=2),
                                encoding="utf-8")


def _tool_version(package: str) -> str:
    manifest = REPO / "node_modules" / package / "package.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["version"]


# -- Lighthouse --------------------------------------------------------------------------

def run_lighthouse(url: str, report: Path) -> dict:
    """One Lighthouse run (its own Chromium, mobile emulation) → the JSON report."""
    command = [
        shutil.which("node") or "node", str(LIGHTHOUSE_CLI), url,
        "--form-factor=mobile", "--chrome-flags=" + " ".join(CHROME_FLAGS),
        "--only-categories=performance,accessibility,best-practices,seo",
        "--output=json", f"--output-path={report}", "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=LIGHTHOUSE_TIMEOUT_S,
                          env={**os.environ, "CHROME_PATH": str(CHROMIUM)}, cwd=REPO)
    assert done.returncode == 0 and report.is_file(), \
        f"Lighthouse failed on {url} (exit {done.returncode}):\n{done.stderr[-3000:]}"
    data = json.loads(report.read_text(encoding="utf-8"))
    error = data.get("runtimeError")
    assert not error, f"Lighthouse could not audit {url}: {error}"
    return data


def failing_audits(report: dict, category: str) -> list[str]:
    """Every scored audit of ``category`` that lost points, with the elements at fault."""
    lines = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if ref.get("weight", 0) == 0 or audit.get("score") is None or audit["score"] >= 1:
            continue
        shown = f" ({audit['displayValue']})" if audit.get("displayValue") else ""
        lines.append(f"  - {ref['id']}: {audit['title']}{shown}, score {audit['score']}")
        for item in (audit.get("details") or {}).get("items", [])[:5]:
            where = _item_location(item)
            if where:
                lines.append(f"      {where[:200]}")
    return lines


def _item_location(item: dict) -> str:
    """What a Lighthouse finding points at: an element's HTML, else a URL, else its text."""
    node = item.get("node")
    if isinstance(node, dict) and node.get("snippet"):
        return node["snippet"]
    for key in ("url", "sourceLocation", "source"):
        value = item.get(key)
        if isinstance(value, dict):
            value = value.get("url")
        if isinstance(value, str) and value:
            return value
    return str(item.get("description", ""))


@pytest.fixture(scope="module", params=PAGE_KINDS)
def lighthouse(request, site, results, tmp_path_factory) -> tuple[str, dict]:
    """(page kind, Lighthouse report); one run per page, shared by the tests below."""
    kind = request.param
    report = run_lighthouse(site.url(kind), tmp_path_factory.mktemp("lighthouse") / f"{kind}.json")
    results.setdefault(kind, {})["url"] = site.pages[kind]
    results[kind]["lighthouse"] = {name: category["score"]
                                   for name, category in report["categories"].items()}
    results[kind]["cls"] = report["audits"]["cumulative-layout-shift"]["numericValue"]
    return kind, report


def test_lighthouse_scores_meet_targets(lighthouse):
    kind, report = lighthouse
    problems = []
    for category, minimum in MINIMUM_SCORE.items():
        score = report["categories"][category]["score"]
        if score is None or score < minimum:
            problems.append(f"{category} {score} < {minimum}")
            problems.extend(failing_audits(report, category))
    if problems:
        pytest.fail(f"{kind} page {report['finalDisplayedUrl']}:\n" + "\n".join(problems),
                    pytrace=False)


def test_no_layout_shift(lighthouse):
    kind, report = lighthouse
    shift = report["audits"]["cumulative-layout-shift"]
    assert shift["numericValue"] == 0, f"{kind} page shifts its layout: CLS {shift['displayValue']}"


# -- axe-core ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def phone(browser):
    """A fresh phone-sized page per test, closed afterwards."""
    @contextlib.contextmanager
    def open_page(**options):
        context = browser.new_context(viewport=PHONE, **options)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()
    return open_page


def _open(page, site: AuditedSite, kind: str) -> None:
    """Load a page; the search page also waits for its script to fetch the index."""
    page.goto(site.url(kind), wait_until="networkidle" if kind == "search" else "load")


def _violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE_SCRIPT))
    outcome = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return outcome["violations"]


def _describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"  - {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"      {' '.join(map(str, node['target']))}: {node['html'][:160]}")
    return "\n".join(lines)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_axe_finds_no_violation(kind, scheme, site, phone, results):
    with phone(color_scheme=scheme) as page:
        _open(page, site, kind)
        violations = _violations(page)
    results.setdefault(kind, {})[f"axe_{scheme}"] = [v["id"] for v in violations]
    if violations:
        pytest.fail(f"{kind} page, {scheme} scheme:\n{_describe_violations(violations)}",
                    pytrace=False)


# -- keyboard and structure --------------------------------------------------------------

# Marks every element a keyboard user could reach, in document order, and reports which
# of them the browser will actually put in the tab order (rendered, enabled, not inert).
_MARK_FOCUSABLE = """() => {
  const selector = 'a[href], area[href], button, input:not([type=hidden]), select, textarea,'
                 + ' summary, iframe, [contenteditable=""], [contenteditable=true], [tabindex]';
  const reachable = [];
  document.querySelectorAll(selector).forEach((element, index) => {
    element.dataset.auditIndex = index;
    const style = getComputedStyle(element);
    const rendered = element.getClientRects().length > 0 && style.visibility !== 'hidden';
    if (rendered && !element.disabled && !element.closest('[inert]') && element.tabIndex >= 0)
      reachable.push({index, tabIndex: element.tabIndex, html: element.outerHTML.slice(0, 120)});
  });
  return reachable;
}"""

_FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  const index = element.dataset.auditIndex;
  return {index: index === undefined ? null : Number(index),
          html: element.outerHTML.slice(0, 120),
          outline: parseFloat(style.outlineWidth) > 0 && style.outlineStyle !== 'none',
          shadow: style.boxShadow !== 'none',
          onScreen: box.width > 1 && box.height > 1 && box.bottom > 0 && box.right > 0
                    && box.top < innerHeight && box.left < innerWidth};
}"""


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_keyboard_reaches_everything_in_order_with_a_visible_focus_ring(kind, site, phone):
    with phone() as page:
        _open(page, site, kind)
        reachable = page.evaluate(_MARK_FOCUSABLE)
        positive = [r["html"] for r in reachable if r["tabIndex"] > 0]
        assert not positive, f"{kind}: positive tabindex breaks the reading order: {positive}"
        visited = []
        for _ in range(len(reachable)):
            page.keyboard.press("Tab")
            focused = page.evaluate(_FOCUSED)
            assert focused, f"{kind}: Tab left the page after {len(visited)} stops"
            assert focused["outline"] or focused["shadow"], \
                f"{kind}: no visible focus ring (outline or box-shadow) on {focused['html']}"
            assert focused["onScreen"], f"{kind}: focused element is off screen: {focused['html']}"
            visited.append(focused["index"])
    assert visited == [r["index"] for r in reachable], \
        f"{kind}: Tab order differs from reading order:\n visited {visited}\n expected " \
        f"{[r['index'] for r in reachable]}"


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_skip_link_comes_first_and_moves_focus_to_the_content(kind, site, phone):
    with phone() as page:
        page.goto(site.url(kind))
        page.keyboard.press("Tab")
        first = page.evaluate("() => ({text: document.activeElement.textContent.trim(),"
                              " href: document.activeElement.getAttribute('href')})")
        assert "skip" in first["text"].lower() and first["href"].endswith("#main"), \
            f"{kind}: the first Tab stop is not a skip link: {first}"
        page.keyboard.press("Enter")
        landed = page.evaluate("() => document.activeElement.closest('main') !== null")
        assert landed, f"{kind}: following the skip link does not put focus in <main>"
        page.keyboard.press("Tab")
        inside = page.evaluate("() => document.activeElement.closest('main') !== null")
        assert inside, f"{kind}: after the skip link, the next Tab stop is not in <main>"


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_landmarks_one_h1_and_a_language(kind, site, phone):
    with phone() as page:
        page.goto(site.url(kind))
        counts = {role: page.get_by_role(role).count()
                  for role in ("banner", "navigation", "main", "contentinfo")}
        assert counts["banner"] == 1 and counts["main"] == 1 and counts["contentinfo"] == 1 \
            and counts["navigation"] >= 1, f"{kind}: landmarks {counts}"
        assert page.locator("h1").count() == 1, f"{kind}: {page.locator('h1').count()} h1 elements"
        lang = page.evaluate("() => document.documentElement.lang")
        assert re.fullmatch(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*", lang), \
            f"{kind}: <html lang={lang!r}>"


def test_pagination_is_labelled_and_marks_the_current_page(site, phone):
    stories = len(_read_stories(site.config))
    assert stories > site.config.per_page, \
        f"the sample archive ({stories} stories, per_page {site.config.per_page}) has no " \
        "paginated list to check"
    with phone() as page:
        page.goto(site.url("home"))
        nav = page.locator("nav[aria-label]").filter(has=page.locator("a[rel=next]"))
        assert nav.count() == 1, "the home page has no labelled navigation with a next link"
        current = nav.locator("[aria-current=page]")
        assert current.count() == 1 and current.inner_text().strip() == "1", \
            "the page list does not mark page 1 with aria-current=page"
        nav.locator("a[rel=next]").click()
        page.wait_for_load_state()
        again = page.locator("nav[aria-label] [aria-current=page]")
        assert "2" in [again.nth(i).inner_text().strip() for i in range(again.count())], \
            "page 2 does not mark itself with aria-current=page"


# -- weight, scripts, fonts --------------------------------------------------------------

@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_readable_without_javascript(kind, site, phone):
    with phone(java_script_enabled=False) as page:
        page.goto(site.url(kind))
        assert page.locator("h1").is_visible(), f"{kind}: no visible headline without JavaScript"
        text = page.locator("main").inner_text()
        assert len(text.split()) >= 10, f"{kind}: main content is empty without JavaScript"
        if kind == "story":
            assert page.locator("h1").inner_text().strip() == site.seed.title
            lead = " ".join(site.seed.body.split()[:8])
            assert lead in " ".join(text.split()), "the story body is not shown without JavaScript"


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_no_web_fonts_and_nothing_from_elsewhere(kind, site, phone):
    with phone() as page:
        requests = []
        page.on("requestfinished", lambda request: requests.append(request))
        page.goto(site.url(kind), wait_until="networkidle")
        fonts = [r.url for r in requests if r.resource_type == "font"
                 or re.search(r"\.(woff2?|ttf|otf|eot)(\?|$)", r.url)]
        foreign = [r.url for r in requests if not r.url.startswith(site.origin + "/")]
        broken = [f"{r.url} ({r.response().status})" for r in requests
                  if r.response() and r.response().status >= 400]
    assert not fonts, f"{kind}: web fonts fetched: {fonts}"
    assert not foreign, f"{kind}: requests leave the site: {foreign}"
    assert not broken, f"{kind}: failed requests: {broken}"


def test_story_page_html_and_css_weigh_at_most_30_kb_compressed(site, phone, results):
    with phone() as page:
        responses = []
        page.on("response", lambda response: responses.append(response))
        page.goto(site.url("story"), wait_until="networkidle")
        weights = {r.url: len(gzip.compress(r.body(), compresslevel=6)) for r in responses
                   if r.request.resource_type in ("document", "stylesheet")}
    total = sum(weights.values())
    results.setdefault("story", {})["html_css_gzip_bytes"] = total
    assert any(url.endswith(".css") for url in weights), "the story page loads no stylesheet"
    assert total <= STORY_WEIGHT_LIMIT, f"story page HTML + CSS is {total} bytes gzipped: {weights}"


# -- print -------------------------------------------------------------------------------

WIRE_STORY = """---
title: "West German ship hit during Warsaw Pact exercise"
date: 1987-06-15
source: "Reuters"
byline: "By Jane Doe"
dateline: "BONN"
tags: ["Baltic Sea"]
---

A West German navy ship was accidentally hit by artillery shells from a Warsaw Pact vessel
during exercises in the Baltic Sea, the defence ministry said.
"""
"""The sample archive's stories carry no byline or dateline; this one has every fact."""


@dataclass(frozen=True, slots=True)
class PrintedStory:
    url: str
    """Where the page is served for the test."""
    story: Story
    canonical: str
    """The page's own URL, which the printout must carry."""


@pytest.fixture(scope="module")
def wire_story(tmp_path_factory) -> Iterator[PrintedStory]:
    """A one-story project with a byline and a dateline, built with the default theme."""
    root = tmp_path_factory.mktemp("wire")
    (root / "content" / "world").mkdir(parents=True)
    (root / "content" / "world" / "ship.md").write_text(WIRE_STORY, encoding="utf-8")
    (root / "gazette.toml").write_text('title = "Print check"\nsearch = false\n', encoding="utf-8")
    output = root / "site"
    output.mkdir()
    with _listening(output) as httpd:
        origin = f"http://127.0.0.1:{httpd.server_address[1]}"
        config = load_config(root).replace(base_url=origin + "/", output_dir=str(output))
        pipeline.build(config, jobs=1)
        (story,) = _read_stories(config)
        path = urls.story_path(story, config)
        yield PrintedStory(origin + path, story, urls.absolute(config, path))


@pytest.fixture(params=["seed", "wire"])
def printed(request, site) -> PrintedStory:
    if request.param == "wire":
        return request.getfixturevalue("wire_story")
    return PrintedStory(site.url("story"), site.seed,
                        urls.absolute(site.config, site.pages["story"]))


def test_printed_story_shows_its_facts_and_url_but_no_navigation(printed, phone):
    story = printed.story
    with phone() as page:
        page.goto(printed.url)
        page.emulate_media(media="print")
        text = " ".join(page.locator("body").inner_text().split())  # only what is rendered
        expected = {
            "headline": story.title, "source": story.source, "byline": story.byline,
            "dateline": story.dateline, "body": " ".join(story.body.split()[:8]),
            "URL": printed.canonical,
        }
        missing = [fact for fact, value in expected.items() if value and value not in text]
        if not page.locator("article time").first.is_visible():
            missing.append("date")
        shown = {
            "navigation": any(nav.is_visible() for nav in page.get_by_role("navigation").all()),
            "search": any(element.is_visible() for element in
                          page.locator("a[href*='/search/'], [role=search]").all()),
            "skip link": page.get_by_text("Skip to content").is_visible(),
        }
    assert not missing, f"missing from the printed page {printed.url}: {missing}"
    useless = [name for name, visible in shown.items() if visible]
    assert not useless, f"printed although useless on paper: {useless}"
