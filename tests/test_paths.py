"""Issue 6, "Paths and URLs": no output path leaves ``site/``, every slug has one shape, and
two things that would share a URL are an error naming every source — or, for terms, one
deliberately merged page.

The properties are checked on whole assembled sites built from hostile story values
(``../``, percent-escapes, absolute paths, NUL, reserved names, look-alike Unicode), not
only on the helpers, because a path can be made unsafe by any stage that builds one.
"""

from __future__ import annotations

import datetime as dt
import os
import unicodedata
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder import urls
from builder.assemble import assemble, find_collisions, term_key
from builder.config import SiteConfig
from builder.errors import BuildError
from builder.ingest import parse_bytes
from builder.ingest.slug import RESERVED_SLUGS, story_slug
from builder.model import Story

SLUG_SHAPE = urls.SLUG_PATTERN
SITE_FOLDERS = frozenset({"index", "tags", "topics", "sources", "publishers", "archive",
                          "feeds", "search", "page", "static", "undated"})
"""Reserved names the issue lists (plus the site's own folders): no slug may be one."""

# Pieces an attacker would put into a name to climb out of site/ or confuse a file system.
HOSTILE_PIECES = ["..", ".", "", "/", "\\", "%2e%2e", "%2F", "..%2f", "\0", "\n", "~",
                  "/etc/passwd", "C:\\", "site2", "site-old", "index", "tags", "page",
                  "static", "feeds", "Straße", "STRASSE", "Cafe\u0301", "Caf\u00e9", "東京",
                  "\u202e", "\ufeff", " ", "-", "a" * 90, "Ə"]
hostile_names = st.one_of(
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=5).map("".join),
    st.text(max_size=40),
)
config_permalinks = st.sampled_from(["/{year}/{month}/{day}/{slug}/", "/{slug}/",
                                     "/{topic}/{slug}/", "/{topic}/{id}/", "/{year}/{id}/"])


def _inside(root: Path, relative: str | PurePosixPath) -> bool:
    """True when ``root/relative`` names a file strictly inside ``root`` (by components, so a
    sibling such as ``site2`` or ``site-old`` is outside)."""
    joined = os.path.normpath(os.path.join(root, relative))
    return os.path.commonpath([root, joined]) == str(root) and joined != str(root)


# -- slugs ------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(hostile_names)
def test_term_slugs_have_one_shape_and_are_never_empty_or_reserved(name):
    slug = urls.slugify(name)
    assert SLUG_SHAPE.fullmatch(slug), slug
    assert 1 <= len(slug.encode("utf-8")) <= 80
    assert slug not in SITE_FOLDERS and slug not in urls.RESERVED


@settings(max_examples=400, deadline=None)
@given(hostile_names, st.text(min_size=1, max_size=20))
def test_story_slugs_have_one_shape_and_are_never_empty_or_reserved(title, story_id):
    slug = story_slug(title, story_id)
    assert SLUG_SHAPE.fullmatch(slug), slug
    assert 1 <= len(slug.encode("utf-8")) <= 80
    assert slug not in SITE_FOLDERS and slug not in RESERVED_SLUGS


@pytest.mark.parametrize("reserved", sorted(SITE_FOLDERS | urls.RESERVED))
def test_a_story_titled_like_a_reserved_name_never_gets_it_as_its_url_segment(reserved):
    """With ``permalink = "/{slug}/"`` a story titled "Tags" would be the tag index, one
    titled "Pagefind" would sit in the search bundle and "CON" cannot be checked out on
    Windows. Whatever made the slug (title, front matter), the URL segment is never one
    of the reserved names."""
    config = SiteConfig(permalink="/{slug}/")
    text = f"---\ntitle: {reserved.title()}\ndate: 2021-01-14\n---\nText.\n"
    (story,) = parse_bytes(text.encode(), "politics/x.md", config).stories
    assert urls.story_path(story, config).strip("/") != reserved
    given = _story(slug=reserved)  # a Story made by other code than ingest
    assert urls.story_path(given, config).strip("/") != reserved


# -- output paths -----------------------------------------------------------------------

@settings(max_examples=600, deadline=None)
@given(st.one_of(
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=8).map(
        lambda parts: "/" + "/".join(parts)),
    st.text(max_size=60),
    st.text(max_size=60).map(lambda t: "/" + t + "/"),
))
def test_no_site_path_maps_to_a_file_outside_the_output_directory(path):
    try:
        relative = PurePosixPath(urls.output_path(path))
    except urls.UnsafePath:
        return
    assert not relative.is_absolute()
    text = str(relative)
    assert "\0" not in text and "\\" not in text and "%" not in text
    for root in (Path("/srv/site"), Path("/srv/site/")):
        assert _inside(root, relative), (path, text)


@pytest.mark.parametrize("path", [
    "/../site2/index.html", "/../site-old/x/", "/%2e%2e/%2e%2e/etc/", "/.%2e/x/", "/a/%00/",
    "/a\0/", "//example.org/", "/\\\\server\\share/", "/etc/../../root/", "/./", "/a/.//b/",
    "/a\u2024\u2024/", "/\n/", "/C:/Windows/", "/tags/../../x/",
])
def test_known_escapes_are_refused_or_stay_inside(path):
    try:
        relative = urls.output_path(path)
    except urls.UnsafePath:
        return
    assert _inside(Path("/srv/site"), relative), relative


def _story(**changes: object) -> Story:
    values: dict[str, object] = dict(id="a1", path="politics/a1.md", title="A title",
                                     date=dt.date(2021, 1, 14), topic="politics", slug="a-title",
                                     body="Text of the story.")
    values.update(changes)
    return Story(**values)  # type: ignore[arg-type]


hostile_stories = st.builds(
    lambda n, title, slug, topic, tags, source, publisher, day: _story(
        id=f"s{n}", path=f"c/s{n}.md", title=title or "t", slug=slug, topic=topic or "t",
        tags=tuple(tags), source=source or None, publisher=publisher or None,
        date=None if day is None else dt.date(2021, 1, 1) + dt.timedelta(days=day),
        body=f"Body of story {n}."),
    st.integers(0, 10**6), hostile_names, hostile_names, hostile_names,
    st.lists(hostile_names, max_size=4), hostile_names, hostile_names,
    st.one_of(st.none(), st.integers(0, 3)),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_stories, min_size=1, max_size=6, unique_by=lambda s: s.id),
       config_permalinks)
def test_every_page_of_a_hostile_site_lands_inside_the_output_directory(stories, permalink):
    config = SiteConfig(permalink=permalink, per_page=2)
    site = assemble(stories, config)
    root = Path("/srv/site")
    for page in site.pages:
        assert page.output == str(urls.output_path(page.url)), page.url
        assert _inside(root, page.output), page.output
    for relative, _ in site.files:
        assert _inside(root, relative)
    for kind, terms in site.taxonomies.items():
        for term in terms:
            assert SLUG_SHAPE.fullmatch(term.slug) and len(term.slug) <= 80, (kind, term.slug)
            assert term.slug not in SITE_FOLDERS


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_stories, min_size=1, max_size=6, unique_by=lambda s: s.id),
       config_permalinks)
def test_every_shared_output_path_is_reported_with_all_its_sources(stories, permalink):
    """Whatever the stories, a file two pages would write is an error naming each story."""
    site = assemble(stories, SiteConfig(permalink=permalink))
    collisions = find_collisions(site.pages, {})
    claimed: dict[str, list[str]] = {}
    for page in site.pages:
        claimed.setdefault(page.output, []).extend(page.sources or (page.url,))
    shared = {path: sources for path, sources in claimed.items() if len(sources) > 1}
    assert len(collisions) == len(shared)
    for diagnostic in collisions:
        assert diagnostic.is_error
        path = next(p for p in shared if p in diagnostic.message)
        for source in shared[path]:
            assert source in diagnostic.message or source == diagnostic.path


# -- collisions -------------------------------------------------------------------------

def test_two_stories_with_one_url_are_an_error_naming_both_files():
    """Ids that slugify alike under a permalink without {slug}: no slug can separate them."""
    first = _story(id="A-1", path="politics/first.md", slug="one")
    second = _story(id="a-1", path="economy/second.md", slug="two", body="Other text.")
    site = assemble([first, second], SiteConfig(permalink="/{id}/"))
    (collision,) = find_collisions(site.pages, {})
    assert collision.is_error
    assert "politics/first.md" in str(collision) and "economy/second.md" in str(collision)
    assert "a-1/index.html" in collision.message


def test_two_stories_with_one_slug_both_get_pages_and_a_warning():
    first = _story(id="a", path="politics/first.md", slug="same")
    second = _story(id="b", path="economy/second.md", slug="same", body="Other text.")
    site = assemble([first, second], SiteConfig())
    assert find_collisions(site.pages, {}) == ()
    assert sorted(e.url for e in site.entries) == [
        "/2021/01/14/same-" + urls.short_hash("b") + "/", "/2021/01/14/same/"]
    assert any("economy/second.md" in d.path and "politics/first.md" in d.message
               for d in site.diagnostics if d.severity == "warning")


def test_pipeline_refuses_colliding_stories_before_writing_anything(tmp_path):
    from builder import pipeline

    content = tmp_path / "content" / "politics"
    content.mkdir(parents=True)
    for name, story_id, body in (("first", "F-1", "One text."), ("second", "f-1", "Another.")):
        (content / f"{name}.md").write_text(
            f"---\ntitle: Same headline\ndate: 2021-01-14\nid: {story_id}\n---\n{body}\n",
            encoding="utf-8")
    site = tmp_path / "site"
    site.mkdir()
    (site / "old.html").write_bytes(b"previous build")
    config = SiteConfig(root=tmp_path, permalink="/{id}/")  # "F-1" and "f-1" make one URL
    with pytest.raises(BuildError) as raised:
        pipeline.build(config, jobs=1)
    text = " ".join(str(d) for d in raised.value.diagnostics)
    assert "first.md" in text and "second.md" in text
    assert sorted(p.name for p in site.iterdir()) == ["old.html"]
    assert (site / "old.html").read_bytes() == b"previous build"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


@pytest.mark.parametrize("spellings", [
    ("CAFE", "cafe", "Cafe"),
    ("Straße", "STRASSE", "strasse"),
    ("Caf\u00e9", "Cafe\u0301"),            # NFC and NFD of one word
    ("Ｃａｆｅ", "cafe"),                   # full-width letters (NFKC)
    ("New  York", "new york"),              # runs of white space
])
def test_tags_differing_only_by_case_or_normalisation_are_merged_into_one_page(spellings):
    stories = [_story(id=f"s{i}", path=f"c/s{i}.md", slug=f"s{i}", tags=(name,),
                      body=f"Story {i}.") for i, name in enumerate(spellings)]
    site = assemble(stories, SiteConfig())
    (term,) = site.taxonomies["tags"]
    assert term.count == len(spellings)
    assert set(term.spellings) == {" ".join(s.split()) for s in spellings}
    tag_pages = [p for p in site.pages if p.url.startswith("/tags/") and p.url != "/tags/"
                 and p.template == "term.html"]
    assert [p.url for p in tag_pages] == [term.url]
    assert find_collisions(site.pages, {}) == ()
    assert {link.url for e in site.entries for link in e.tags} == {term.url}


@pytest.mark.parametrize("first, second", [("C++", "C"), ("R&D", "R and D"),
                                           ("Tokyo!", "tokyo?"), ("東京", "東京!")])
def test_distinct_names_with_one_slug_keep_distinct_pages(first, second):
    assert term_key(first) != term_key(second)
    stories = [_story(id="a", path="c/a.md", slug="a", tags=(first,), body="One."),
               _story(id="b", path="c/b.md", slug="b", tags=(second,), body="Two.")]
    site = assemble(stories, SiteConfig())
    tags = site.taxonomies["tags"]
    assert len({t.url for t in tags}) == len(tags) == 2
    assert find_collisions(site.pages, {}) == ()


def test_a_long_name_disambiguated_by_hash_keeps_the_slug_shape():
    """Two distinct names that slugify alike: the second gets ``<slug[:70]>-<hash>``. When
    the cut falls just after a hyphen the result must still match the slug pattern."""
    first = "a" * 69 + " bbbb"      # slug: 69 a's, '-', 'bbbb'
    second = "a" * 69 + "-bbbb"     # a different name with the same slug
    assert urls.slugify(first) == urls.slugify(second)
    stories = [_story(id="a", path="c/a.md", slug="a", tags=(first,), body="One."),
               _story(id="b", path="c/b.md", slug="b", tags=(second,), body="Two.")]
    site = assemble(stories, SiteConfig())
    for term in site.taxonomies["tags"]:
        assert SLUG_SHAPE.fullmatch(term.slug), term.slug
        assert len(term.slug) <= 80


@pytest.mark.parametrize("name", sorted(SITE_FOLDERS | {"atom.xml", "sitemap", "404"}))
def test_a_tag_or_topic_named_like_a_reserved_path_gets_its_own_url(name):
    story = _story(tags=(name,), topic=name)
    site = assemble([story], SiteConfig(permalink="/{topic}/{slug}/"))
    assert find_collisions(site.pages, {}) == ()
    for kind in ("tags", "topics"):
        (term,) = site.taxonomies[kind]
        assert term.slug not in SITE_FOLDERS
        assert term.url not in {"/tags/", "/topics/", f"/{kind}/page/"}


def test_a_story_claiming_a_static_file_path_is_a_collision_naming_both(tmp_path):
    from builder.pipeline import static_files

    shadow = tmp_path / "static" / "gazette-css" / "index.html"
    shadow.parent.mkdir(parents=True)
    shadow.write_bytes(b"<p>a static page</p>")
    config = SiteConfig(root=tmp_path, permalink="/static/{slug}/")
    site = assemble([_story(slug="gazette-css")], config)
    claims = {path: f"static file {source}" for path, source in static_files(config).items()}
    (collision,) = find_collisions(site.pages, claims)
    assert "politics/a1.md" in collision.message and str(shadow) in collision.message


def test_term_identity_ignores_case_and_normalisation_only():
    assert term_key("Straße") == term_key("STRASSE") == term_key("strasse")
    assert term_key(unicodedata.normalize("NFD", "Café")) == term_key("CAFÉ")
    assert term_key("Cafe") != term_key("Café")  # an accent is a different word
