"""The built site as a browser meets it: served under /news/, every page parses as strict
HTML5 and every internal link, image, stylesheet, feed and sitemap URL resolves."""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import html5lib
import pytest

from builder.cli import main

from test_build import add_story, use_json_ingest

BASE_URL = "https://example.org/news/"
PREFIX = "/news/"
REPO = Path(__file__).resolve().parent.parent


class PrefixHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the output directory under its prefix only (/news/ as GitHub Pages serves a
    project site, or / as it serves a user site)."""

    def __init__(self, *args, prefix: str = PREFIX, **kwargs):
        self.prefix = prefix
        super().__init__(*args, **kwargs)

    def translate_path(self, path):
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / ".outside-the-prefix" / "missing")
        return super().translate_path("/" + path[len(self.prefix):])

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    servers = []

    def start(directory: Path, prefix: str = PREFIX) -> str:
        handler = functools.partial(PrefixHandler, directory=str(directory), prefix=prefix)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}{prefix}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def crawl(site_dir: Path, root: str, base_url: str = BASE_URL) -> tuple[int, list[str]]:
    """Fetch every page of the site and every URL it points to; return pages and broken."""
    local = functools.partial(_localise, root=root, base_url=base_url)
    pages = [root + p.relative_to(site_dir).as_posix().removesuffix("index.html")
             for p in sorted(site_dir.rglob("*.html"))]
    checked: set[str] = set()
    broken: list[str] = []
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    for page in pages:
        status, body = fetch(page)
        assert status == 200, page
        try:
            document = parser.parse(body)
        except html5lib.html5parser.ParseError as error:
            pytest.fail(f"{page} is not valid HTML5: {error}")
        targets = [e.get("href") or e.get("src") for e in document.iter()
                   if e.tag in ("a", "link", "img", "script") and (e.get("href") or e.get("src"))]
        for target in targets:
            url = local(urljoin(page, target))
            if url and url not in checked:
                checked.add(url)
                if fetch(url)[0] != 200:
                    broken.append(f"{page} → {target}")
    for xml_file in ("sitemap.xml", "atom.xml"):
        document = ET.fromstring(fetch(root + xml_file)[1])
        for element in document.iter():
            target = element.text if element.tag.endswith("loc") else element.get("href")
            url = local(target) if target else None
            if url and fetch(url)[0] != 200:
                broken.append(f"{xml_file} → {target}")
    return len(pages), broken


def _localise(url: str, root: str, base_url: str) -> str | None:
    """The local server's URL for an internal link; None for other sites and fragments."""
    url = url.split("#")[0]
    if url.startswith(base_url):
        return root + url[len(base_url):]
    if url.startswith(root):
        return url
    parts = urlsplit(url)
    if parts.netloc == urlsplit(root).netloc:
        return url  # on this host but outside /news/: must still resolve (it will not)
    return None


@pytest.mark.parametrize("archive_days", ["true", "false"])
def test_synthetic_site_has_no_broken_links(tmp_path, monkeypatch, serve, archive_days):
    use_json_ingest(monkeypatch)
    (tmp_path / "content").mkdir()
    (tmp_path / "gazette.toml").write_text(
        f"per_page = 3\nallow_undated = true\narchive_days = {archive_days}\n")
    for n in range(12):
        add_story(tmp_path, n, publisher="AzerNews" if n % 4 == 0 else None,
                  byline="Staff", dateline="BAKU", license="CC BY 2.5",
                  source_url="https://en.wikinews.org/wiki/X")
    add_story(tmp_path, 99, date=None)
    assert main(["--root", str(tmp_path), "build", "--base-url", BASE_URL]) == 0
    root = serve(tmp_path / "site")
    pages, broken = crawl(tmp_path / "site", root)
    assert pages > 40 and broken == []
    day_pages = list((tmp_path / "site" / "archive").glob("*/*/*/index.html"))
    assert bool(day_pages) == (archive_days == "true")
    # The crawler does notice a link that forgets the base path.
    story = next((tmp_path / "site" / "2020").rglob("index.html"))
    story.write_text(story.read_text().replace('href="/news/tags/"', 'href="/tags/"'))
    assert crawl(tmp_path / "site", root)[1] == [
        f"{root}{story.parent.relative_to(tmp_path / 'site').as_posix()}/ → /tags/"]


@pytest.mark.parametrize("base_url, prefix", [(BASE_URL, PREFIX),
                                              ("https://example.org/", "/")])
def test_sample_archive_has_no_broken_links(tmp_path, serve, base_url, prefix):
    assert main(["--root", str(REPO), "build", "--output", str(tmp_path / "site"),
                 "--base-url", base_url]) == 0
    pages, broken = crawl(tmp_path / "site", serve(tmp_path / "site", prefix), base_url)
    assert pages > 300 and broken == []
