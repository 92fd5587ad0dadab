"""Wire copies and related coverage, as a reader and a search engine see them in the site.

The real pair from the corpus: 017 is the Reuters SGML original, 076 the AzerNews-style
repost of it (new header, last paragraph dropped, publisher footer added).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
import pytest

from builder import pipeline, render
from builder.assemble import SITEMAP_LIMIT, Page, _sitemaps, assemble
from builder.config import SiteConfig
from builder.model import Story

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "raw"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("coverage")
    shutil.copytree(CORPUS, root / "content" / "wire")
    # One page per list and per feed, so each list is checked whole.
    config = SiteConfig(root=root, base_url="https://example.org/news/", search=False,
                        per_page=500, feed_size=500,
                        publisher_aliases={"AzerNews": ("@AzerNewsAz",)})
    result = pipeline.build(config)
    # The corpus's four unreadable files and its two undated stories are skipped.
    assert len({d.path for d in result.skipped}) == 6
    return root / "site"


def parse(path: Path):
    return html5lib.parse(path.read_bytes(), namespaceHTMLElements=False)


def canonical(page: Path) -> str:
    return parse(page).find(".//link[@rel='canonical']").get("href")


def pages_of(site: Path) -> dict[str, Path]:
    """Story pages by their URL path."""
    return {"/" + p.parent.relative_to(site).as_posix() + "/": p
            for p in site.glob("1987/*/*/*/index.html")}


def test_lists_show_a_wire_copy_once_with_its_other_versions(site):
    home = parse(site / "index.html")
    titles = ["".join(a.itertext()) for a in home.findall(".//ol[@class='stories']//h2/a")]
    ship = [t for t in titles if "warsaw pact" in t.lower()]
    assert ship == ["W GERMAN SHIP HIT DURING WARSAW PACT WAR GAMES"]
    also = home.find(".//p[@class='also']")
    assert "".join(also.itertext()).split() == ["Also", "reported", "by:", "AzerNews"]
    assert also.find("a").get("href").startswith("/news/1987/06/15/")
    day = parse(site / "archive" / "1987" / "06" / "15" / "index.html")
    assert len(day.findall(".//ol[@class='stories']/li")) == 1


def test_each_copy_keeps_its_page_pointing_at_the_earliest_version(site):
    pages = pages_of(site)
    original = next(u for u in pages if u.endswith("/w-german-ship-hit-during-warsaw-pact-war-games/"))
    (repost,) = [u for u in pages if u != original and "/1987/06/15/" in u
                 and "ship" in pages[u].read_text().lower() and "AzerNews" in pages[u].read_text()]
    assert canonical(pages[original]) == "https://example.org/news" + original
    assert canonical(pages[repost]) == "https://example.org/news" + original
    note = parse(pages[repost]).find(".//div[@class='wire-copies']")
    assert "earliest version" in "".join(note.itertext())
    assert note.find(".//a").get("href") == "/news" + original
    ld = [json.loads(s.text) for s in parse(pages[repost]).findall(".//script")
          if s.get("type") == "application/ld+json"]
    article = next(d for d in ld if d["@type"] == "NewsArticle")
    assert article["isBasedOn"] == "https://example.org/news" + original
    # Only the original is offered to search engines and to the search index.
    sitemap = (site / "sitemap.xml").read_text()
    assert original in sitemap and repost not in sitemap
    assert "data-pagefind-body" in pages[original].read_text()
    assert "data-pagefind-body" not in pages[repost].read_text()


def test_story_pages_list_related_coverage_but_never_their_own_copies(site):
    pages = pages_of(site)
    sections = {url: parse(page).find(".//section[@aria-labelledby='related-heading']")
                for url, page in pages.items()}
    assert sum(s is not None for s in sections.values()) >= len(sections) // 4
    for url, section in sections.items():
        if section is None:
            continue
        page = pages[url]
        links = [a.get("href") for a in section.findall(".//a")]
        assert "/news" + url not in links
        assert len(links) <= 5
        canonical_url = canonical(page).removeprefix("https://example.org")
        assert canonical_url not in links or canonical_url == "/news" + url


def test_feeds_list_a_wire_copy_once(site):
    feed = ET.parse(site / "atom.xml").getroot()
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title")
              for e in feed.findall("{http://www.w3.org/2005/Atom}entry")]
    assert sum("SHIP" in t.upper() for t in titles) == 1


def test_check_lists_duplicate_groups_and_jsonl_names_the_earliest_version(site, capsys):
    from builder.cli import main

    root = site.parent
    assert main(["--root", str(root), "check"]) == 1  # the corpus's unreadable files
    err = capsys.readouterr().err
    assert ("wire copies of one story (earliest first): content/wire/017_d76f2784919b2804.txt, "
            "content/wire/076_7cfd49cbf20327e1.txt") in err
    main(["--root", str(root), "normalize"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_file = {r["file"]: r for r in records if r["status"] == "ok"}
    assert by_file["content/wire/076_7cfd49cbf20327e1.txt"]["duplicate_of"] == "d76f2784919b2804"
    assert by_file["content/wire/017_d76f2784919b2804.txt"]["duplicate_of"] is None
    assert sum(r["duplicate_of"] is not None for r in by_file.values()) == 1


# -- sitemaps ---------------------------------------------------------------------------

def dated_story(n: int, day: dt.date, **changes) -> Story:
    values = dict(id=f"id{n:03d}", path=f"world/{n:03d}.txt", title=f"Story {n}", date=day,
                  topic="world", slug=f"story-{n}", body=f"Body {n} " + "word " * n,
                  content_hash=f"h{n}")
    values.update(changes)
    return Story(**values)


def test_news_sitemap_holds_the_stories_of_the_last_days_before_the_build():
    build_time = dt.datetime(2021, 1, 14, 12, tzinfo=dt.timezone.utc)
    stories = [dated_story(n, dt.date(2021, 1, 14) - dt.timedelta(days=n)) for n in range(5)]
    site = assemble(stories, SiteConfig(news_sitemap_days=2), build_time=build_time)
    (news,) = [p for p in site.pages if p.url == "/news-sitemap.xml"]
    assert [e.story.id for e in news.data["entries"]] == ["id000", "id001", "id002"]
    env = render.environment(SiteConfig(news_sitemap_days=2), site.nav)
    root = ET.fromstring(render.render_page(news, env))
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9",
          "n": "http://www.google.com/schemas/sitemap-news/0.9"}
    assert [u.findtext("n:news/n:publication_date", namespaces=ns)
            for u in root.findall("s:url", ns)] == ["2021-01-14", "2021-01-13", "2021-01-12"]
    robots = next(p for p in site.pages if p.url == "/robots.txt")
    assert b"news-sitemap.xml" in render.render_page(robots, env)


def test_sitemap_becomes_an_index_past_fifty_thousand_urls():
    pages = [Page(url=f"/p/{n}/", output=f"p/{n}/index.html", template="list.html",
                  title="", description="") for n in range(SITEMAP_LIMIT + 1)]
    made = {p.url: p for p in _sitemaps(pages, (), SiteConfig(), None)}
    assert made["/sitemap.xml"].template == "sitemap_index.xml"
    assert made["/sitemap.xml"].data["sitemaps"] == ("/sitemaps/sitemap-1.xml",
                                                     "/sitemaps/sitemap-2.xml")
    assert len(made["/sitemaps/sitemap-1.xml"].data["locations"]) == SITEMAP_LIMIT
    assert len(made["/sitemaps/sitemap-2.xml"].data["locations"]) == 1
    small = {p.url: p for p in _sitemaps(pages[:10], (), SiteConfig(), None)}
    assert small["/sitemap.xml"].template == "sitemap.xml" and "/sitemaps/sitemap-1.xml" not in small


def test_every_page_carries_valid_structured_data(site):
    """schema.org JSON-LD on every HTML page parses, and says what the page is: a
    NewsArticle with its breadcrumbs on story pages, a CollectionPage on every index."""
    kinds: dict[str, int] = {}
    for page in sorted(site.rglob("*.html")):
        relative = page.relative_to(site).as_posix()
        if relative in ("404.html", "search/index.html"):
            continue  # neither a story nor a collection of stories
        blocks = [json.loads(s.text) for s in parse(page).findall(".//script")
                  if s.get("type") == "application/ld+json"]
        types = sorted(block["@type"] for block in blocks)
        assert all(block["@context"] == "https://schema.org" for block in blocks), relative
        if relative[:4].isdigit():  # a story page
            assert types == ["BreadcrumbList", "NewsArticle"], relative
            article = next(b for b in blocks if b["@type"] == "NewsArticle")
            for key in ("headline", "datePublished", "dateModified", "publisher", "url",
                        "articleSection"):
                assert article.get(key), (relative, key)
            if "sourceOrganization" in article:  # the agency, when the story names one
                kinds["with source"] = kinds.get("with source", 0) + 1
            assert article["url"] == canonical(page) or "isBasedOn" in article, relative
            crumbs = next(b for b in blocks if b["@type"] == "BreadcrumbList")
            assert [i["position"] for i in crumbs["itemListElement"]] == [1, 2, 3, 4]
        else:
            assert types == ["CollectionPage"], relative
            assert blocks[0]["url"].startswith("https://example.org/news/"), relative
        for kind in types:
            kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds["NewsArticle"] == 96 and kinds["CollectionPage"] > 100
    assert kinds["with source"] >= 80  # all but the plain-shape files, which name no agency
