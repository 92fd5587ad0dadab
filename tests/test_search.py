"""Search indexing: Pagefind over a tiny hand-written site, and the search page template.

The story pages below carry the attributes the story template is expected to carry (see
README.md, "Search"): ``data-pagefind-body`` on the <article>, filters for topic,
source, year and tag, a date sort key, and ``data-pagefind-ignore`` on everything in the
article that is not headline or body.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder import search
from builder.assemble import Page
from builder.config import SiteConfig
from builder.errors import BuildError
from builder.render import environment, render_page

SEED = Path(__file__).parent / "fixtures" / "seed" / "000_a203978440becfc5.txt"


@dataclass(frozen=True)
class FixtureStory:
    path: str
    """Site path of the story page, e.g. ``/2021/01/14/putin-erdogan/``."""
    title: str
    date: str
    topic: str
    source: str
    tags: tuple[str, ...]
    body: str


def seed_story() -> FixtureStory:
    """The seed story (Putin and Erdogan, Trend, 14 January 2021) as a story page shows it."""
    text = SEED.read_text(encoding="utf-8")
    body = text.split("\n", 1)[1].split("\n---", 1)[0].strip()
    return FixtureStory("/2021/01/14/putin-erdogan-phone-talk/",
                        "Putin and Erdogan discuss Nagorno-Karabakh by phone", "2021-01-14",
                        "Politics", "Trend", ("Recep Tayyip Erdogan", "Vladimir Putin"), body)


def fixture_stories() -> tuple[FixtureStory, ...]:
    """The seed plus enough stories that a filter has many values (so an unsorted filter
    index would almost surely come out in another order on the next run)."""
    others = tuple(
        FixtureStory(f"/{2010 + n}/03/0{1 + n % 9}/story-{n}/", f"Story number {n} from Baku",
                     f"{2010 + n}-03-0{1 + n % 9}", ("Economy", "Energy", "Culture")[n % 3],
                     f"Agency {n % 5}", (f"Person {n}", "Baku, Azerbaijan"),
                     f"Gas and trade news item {n}, with talks held in Baku on the pipeline.")
        for n in range(12))
    erdogan_economy = FixtureStory(
        "/2020/05/01/erdogan-trade/", "Erdogan opens trade fair", "2020-05-01", "Economy",
        "Reuters", ("Recep Tayyip Erdogan",),
        "Turkish President Recep Tayyip Erdogan opened a trade fair in Ankara on Friday.")
    return (seed_story(), erdogan_economy, *others)


def story_html(story: FixtureStory, base: str) -> str:
    """A story page marked up as the story template marks it."""
    tags = "".join(f'<li><a href="{base}tags/x/" rel="tag" data-pagefind-filter="tag">{t}</a></li>'
                   for t in story.tags)
    paragraphs = "".join(f"<p>{p}</p>" for p in story.body.split("\n\n"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{story.title}</title>
<link rel="stylesheet" href="{base}static/gazette.css"></head>
<body><header class="site-header"><nav class="site-nav" aria-label="Main"><ul>
<li><a href="{base}">Home</a></li><li><a href="{base}search/">Search</a></li>
<li><a href="{base}topics/">Navigationword</a></li></ul></nav></header>
<main id="main">
<article class="story" data-pagefind-body data-pagefind-sort="date:{story.date}">
<header class="story-header">
<p class="kicker" data-pagefind-ignore><a href="{base}topics/x/" data-pagefind-filter="topic">{story.topic}</a></p>
<h1>{story.title}</h1>
<dl class="story-facts" data-pagefind-ignore>
<dt>Published</dt><dd><time datetime="{story.date}" data-pagefind-meta="date" data-pagefind-filter="year:{story.date[:4]}">{story.date}</time></dd>
<dt>Source</dt><dd><a href="{base}sources/x/" data-pagefind-filter="source">{story.source}</a></dd>
</dl></header>
<div class="story-body">{paragraphs}</div>
<aside class="publisher-note" data-pagefind-ignore><p>Follow us on Twitter @Footerword</p></aside>
<footer class="story-tags" data-pagefind-ignore><ul class="tags">{tags}</ul></footer>
</article>
<section class="more" aria-labelledby="more-heading"><h2 id="more-heading">More</h2>
<ul><li><a href="{base}x/">Relatedword headline</a></li></ul></section>
</main><footer class="site-footer"><p>Sitefooterword</p></footer></body></html>
"""


def write_site(root: Path, base: str = "/",
               stories: tuple[FixtureStory, ...] | None = None) -> Path:
    """A built-site directory: story pages, a list page and a page of another kind."""
    for story in stories or fixture_stories():
        page = root / story.path.strip("/") / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(story_html(story, base), encoding="utf-8")
    (root / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><title>Home</title></head><body><h1>Home</h1>'
        "<p>Listpageword Erdogan Baku</p></body></html>", encoding="utf-8")
    return root


def bundle_bytes(site: Path) -> dict[str, bytes]:
    bundle = site / search.BUNDLE_DIR
    return {p.relative_to(bundle).as_posix(): p.read_bytes()
            for p in sorted(bundle.rglob("*")) if p.is_file()}


def decoded(path: Path) -> bytes:
    data = gzip.decompress(path.read_bytes())
    assert data.startswith(b"pagefind_dcd")
    return data[len(b"pagefind_dcd"):]


def fragments(site: Path) -> dict[str, dict]:
    """URL → indexed record of every page in the index."""
    records = (json.loads(decoded(p)) for p in (site / "pagefind" / "fragment").iterdir())
    return {record["url"]: record for record in records}


@pytest.fixture
def config(tmp_path) -> SiteConfig:
    return SiteConfig(root=tmp_path, base_url="http://example.org/news/")


# -- indexing --------------------------------------------------------------------------------

def test_indexes_story_pages_with_filters_and_reports_stats(tmp_path, config):
    site = write_site(tmp_path / "site")

    stats = search.index_site(site, config=config)

    assert stats.pages == len(fixture_stories())  # the home page carries no data-pagefind-body
    assert stats.filters == ("source", "tag", "topic", "year")
    assert stats.warnings == ()
    assert (site / "pagefind" / "pagefind.js").is_file()
    assert stats.files == len(bundle_bytes(site))
    assert stats.bytes == sum(len(data) for data in bundle_bytes(site).values())
    entry = json.loads((site / "pagefind" / "pagefind-entry.json").read_text(encoding="utf-8"))
    assert list(entry["languages"]) == ["en"]
    meta_hash = entry["languages"]["en"]["hash"]
    assert (site / "pagefind" / f"pagefind.{meta_hash}.pf_meta").is_file()


def test_only_headline_and_body_are_indexed(tmp_path, config):
    site = write_site(tmp_path / "site")
    search.index_site(site, config=config)

    record = fragments(site)["/2021/01/14/putin-erdogan-phone-talk/"]

    assert record["meta"]["title"] == "Putin and Erdogan discuss Nagorno-Karabakh by phone"
    assert record["meta"]["date"] == "2021-01-14"
    assert "Recep Tayyip Erdogan took place on Jan. 13" in record["content"]
    for outside in (
            "Navigationword", "Footerword", "Relatedword", "Sitefooterword", "Listpageword"):
        assert outside not in record["content"]
    assert record["filters"] == {"topic": ["Politics"], "source": ["Trend"], "year": ["2021"],
                                 "tag": ["Recep Tayyip Erdogan", "Vladimir Putin"]}
    assert "/" not in fragments(site)  # list pages are not search results


def test_filter_values_with_commas_survive(tmp_path, config):
    site = write_site(tmp_path / "site")
    search.index_site(site, config=config)

    assert "Baku, Azerbaijan" in fragments(site)["/2010/03/01/story-0/"]["filters"]["tag"]


def test_two_indexings_of_the_same_site_are_byte_identical(tmp_path):
    first = write_site(tmp_path / "one")
    second = write_site(tmp_path / "two")

    # Separate project roots, so each run has its own empty cache and Pagefind really runs.
    for site in (first, second):
        stats = search.index_site(site, config=SiteConfig(root=site.parent / f"{site.name}-root"))
        assert not stats.reused

    assert bundle_bytes(first) == bundle_bytes(second)


def test_filter_indexes_are_written_in_sorted_order(tmp_path, config):
    # The cause of Pagefind's non-determinism, checked directly rather than by luck.
    site = write_site(tmp_path / "site")
    search.index_site(site, config=config)

    for path in (site / "pagefind" / "filter").iterdir():
        name, values = search._cbor_decode(decoded(path), 0)[0]
        assert [value for value, _pages in values] == sorted(value for value, _pages in values)
        assert path.name == f"{search._content_name('en', decoded(path), 7)}.pf_filter"


def test_an_unchanged_site_reuses_the_kept_bundle_without_running_pagefind(
        tmp_path, config, monkeypatch):
    first = write_site(tmp_path / "one")
    indexed = search.index_site(first, config=config)
    second = write_site(tmp_path / "two")  # the next build's staging directory

    def must_not_run(*args):
        raise AssertionError("Pagefind ran although no HTML changed")

    monkeypatch.setattr(search, "_run_pagefind", must_not_run)
    reused = search.index_site(second, config=config)

    assert not indexed.reused and reused.reused
    assert bundle_bytes(second) == bundle_bytes(first)
    assert (reused.pages, reused.filters, reused.files, reused.bytes) == (
        indexed.pages, indexed.filters, indexed.files, indexed.bytes)


def test_a_changed_page_is_indexed_again(tmp_path, config):
    site = write_site(tmp_path / "site")
    search.index_site(site, config=config)
    story = site / "2020" / "05" / "01" / "erdogan-trade" / "index.html"
    story.write_text(story.read_text(encoding="utf-8").replace("trade fair", "book fair"),
                     encoding="utf-8")

    stats = search.index_site(site, config=config)

    assert not stats.reused
    assert "book fair" in fragments(site)["/2020/05/01/erdogan-trade/"]["content"]


def test_a_kept_unmarked_site_still_warns(tmp_path, config):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body><p>Text</p></body></html>", encoding="utf-8")
    search.index_site(site, config=config)

    stats = search.index_site(site, config=config)

    assert stats.reused and len(stats.warnings) == 1


def test_a_stale_bundle_is_replaced(tmp_path, config):
    site = write_site(tmp_path / "site")
    stale = site / "pagefind" / "fragment" / "en_stale.pf_fragment"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")

    search.index_site(site, config=config)

    assert not stale.exists()


def test_stories_in_other_languages_share_the_site_index(tmp_path, config):
    site = write_site(tmp_path / "site")
    german = site / "2021" / "01" / "14" / "putin-erdogan-phone-talk" / "index.html"
    german.write_text(german.read_text(encoding="utf-8").replace('lang="en"', 'lang="de"'),
                      encoding="utf-8")

    stats = search.index_site(site, config=config)

    entry = json.loads((site / "pagefind" / "pagefind-entry.json").read_text(encoding="utf-8"))
    assert list(entry["languages"]) == ["en"]
    assert stats.pages == len(fixture_stories())


def test_unmarked_pages_give_a_warning_naming_the_story_template(tmp_path, config):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body><nav>Menu</nav><p>Text</p></body></html>",
                                     encoding="utf-8")

    stats = search.index_site(site, config=config)

    (warning,) = stats.warnings
    assert warning.severity == "warning"
    assert warning.path == "templates/story.html"
    assert "data-pagefind-body" in warning.message and "data-pagefind-body" in warning.hint


def test_a_site_without_pages_is_a_build_error_not_a_traceback(tmp_path, config):
    site = tmp_path / "site"
    site.mkdir()

    with pytest.raises(BuildError, match="Pagefind failed to index"):
        search.index_site(site, config=config)


def test_a_missing_site_directory_is_a_build_error(tmp_path, config):
    with pytest.raises(BuildError, match="not a directory"):
        search.index_site(tmp_path / "nowhere", config=config)


def test_missing_pagefind_is_a_build_error_with_a_hint(tmp_path, config, monkeypatch):
    import pagefind_bin

    def not_installed():
        raise FileNotFoundError("no binary")

    monkeypatch.setattr(pagefind_bin, "get_executable", not_installed)
    monkeypatch.setattr(shutil, "which", lambda name: None)

    with pytest.raises(BuildError, match=r"pip install 'pagefind-bin.*search = false"):
        search.index_site(write_site(tmp_path / "site"), config=config)


def test_an_unknown_index_layout_changes_nothing(tmp_path, config):
    site = write_site(tmp_path / "site")
    search.index_site(site, config=config)
    (first, *_) = sorted((site / "pagefind" / "filter").iterdir())
    first.write_bytes(gzip.compress(b"pagefind_dcd" + search._cbor_encode({"new": "layout"})))
    before = bundle_bytes(site)

    with pytest.raises(search._UnknownLayout, match=first.name):
        search._make_reproducible(site / "pagefind")

    assert bundle_bytes(site) == before


def test_an_unknown_index_layout_is_a_warning_not_a_failure(tmp_path, config, monkeypatch):
    def unknown(bundle):
        raise search._UnknownLayout("pagefind.en_x.pf_meta: encoding not reproduced exactly")

    monkeypatch.setattr(search, "_make_reproducible", unknown)

    stats = search.index_site(write_site(tmp_path / "site"), config=config)

    (warning,) = stats.warnings
    assert warning.path == "site/pagefind" and warning.severity == "warning"
    assert "may differ between two builds" in warning.message
    assert stats.pages == len(fixture_stories())


@pytest.mark.parametrize("value", [
    0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, -1, -24, -25, -300,
    "", "Erdoğan", "x" * 300, [], [1, [2, "three"]], {"a": [1]}, b"\x00\xff",
])
def test_cbor_codec_round_trips(value):
    encoded = search._cbor_encode(value)
    assert search._cbor_decode(encoded, 0) == (value, len(encoded))


def test_cbor_encoding_is_shortest_form():
    assert search._cbor_encode(23) == b"\x17"
    assert search._cbor_encode(24) == b"\x18\x18"
    assert search._cbor_encode(-25) == b"\x38\x18"
    assert search._cbor_encode("tag") == b"ctag"
    assert search._cbor_encode([1, 2]) == b"\x82\x01\x02"


# -- the search page ---------------------------------------------------------------------------

def render_search_page(config: SiteConfig) -> str:
    page = Page(url="/search/", output="search/index.html", template="search.html",
                title="Search", description="Search the archive.", in_sitemap=False)
    return render_page(page, environment(config)).decode("utf-8")


def test_search_page_points_at_the_bundle_under_the_base_path(config):
    html = render_search_page(config)

    assert 'data-bundle="/news/pagefind/"' in html
    assert 'data-base="/news/"' in html
    assert 'src="/news/static/search.js"' in html
    assert 'action="/news/search/"' in html
    for control in ('name="q"', 'name="topic"', 'name="source"', 'name="year"', 'name="tag"',
                    'name="sort"'):
        assert control in html


def test_search_page_without_javascript_explains_and_hides_the_form(config):
    html = render_search_page(config)

    assert "<noscript>" in html and "needs JavaScript" in html
    assert 'id="search" class="search-form"' in html and " hidden>" in html
    assert 'aria-live="polite"' in html


def test_search_page_loads_nothing_from_other_hosts(config):
    html = render_search_page(config)

    links = re.findall(r'(?:src|href|action|data-bundle|data-base)="([^"]*)"', html)
    assert links
    assert all(link.startswith(("/news/", "#", config.base_url)) for link in links), links
