"""URLs and output paths: slugs are always valid, base paths always respected, and no
site path can name a file outside the output directory."""

import datetime as dt
from pathlib import PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder import urls
from builder.config import SiteConfig
from builder.model import Story


@pytest.mark.parametrize("text, slug", [
    ("Recep Tayyip Erdogan", "recep-tayyip-erdogan"),
    ("Straße", "strasse"),
    ("STRASSE", "strasse"),
    ("Café", "cafe"),
    ("Cafe\u0301", "cafe"),  # NFD spelling of the same word
    ("Nagorno-Karabakh", "nagorno-karabakh"),
    ("  --Hello,   World!-- ", "hello-world"),
    ("Azərbaycan", "azerbaycan"),
    ("R&D", "r-and-d"),
])
def test_slugify_spells_names_in_ascii(text, slug):
    assert urls.slugify(text) == slug


def test_slugify_never_returns_empty_or_reserved():
    tokyo = urls.slugify("東京")
    assert tokyo.startswith("t-") and urls.SLUG_PATTERN.fullmatch(tokyo)
    assert urls.slugify("東京") != urls.slugify("大阪")
    assert urls.slugify("Tags") not in urls.RESERVED
    assert urls.slugify("Tags").startswith("tags-")
    assert urls.slugify("index") != "index"


def test_slugify_cuts_long_names_at_a_word_boundary():
    slug = urls.slugify("word " * 40)
    assert len(slug) <= 80 and slug.endswith("word") and not slug.endswith("-")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_every_slug_is_valid(text):
    slug = urls.slugify(text)
    assert urls.SLUG_PATTERN.fullmatch(slug)
    assert 1 <= len(slug.encode()) <= 80
    assert slug not in urls.RESERVED
    assert urls.slugify(text) == slug  # deterministic


def _story(**changes):
    values = dict(id="a2039", path="x.txt", title="T", date=dt.date(2021, 1, 14),
                  topic="World News", slug="putin-erdogan")
    values.update(changes)
    return Story(**values)


def test_story_path_follows_the_permalink_pattern():
    config = SiteConfig()
    assert urls.story_path(_story(), config) == "/2021/01/14/putin-erdogan/"
    custom = SiteConfig(permalink="/{topic}/{year}/{id}/")
    assert urls.story_path(_story(), custom) == "/world-news/2021/a2039/"


def test_story_path_uses_the_site_time_zone_for_the_day():
    late_utc = dt.datetime(2021, 1, 14, 23, 30, tzinfo=dt.timezone.utc)
    assert urls.story_path(_story(date=late_utc), SiteConfig(timezone="Asia/Baku")) \
        == "/2021/01/15/putin-erdogan/"


def test_undated_and_badly_slugged_stories_still_get_safe_paths():
    assert urls.story_path(_story(date=None), SiteConfig()) == "/undated/putin-erdogan/"
    path = urls.story_path(_story(slug="../../etc/passwd"), SiteConfig())
    assert path == "/2021/01/14/etc-passwd/"


def test_href_and_absolute_respect_the_base_path():
    config = SiteConfig(base_url="https://example.org/news/")
    assert urls.href(config, "/tags/cafe/") == "/news/tags/cafe/"
    assert urls.href(config, "/") == "/news/"
    assert urls.absolute(config, "/atom.xml") == "https://example.org/news/atom.xml"


def test_pagination_and_section_paths():
    assert urls.paginated("/tags/x/", 1) == "/tags/x/"
    assert urls.paginated("/tags/x/", 3) == "/tags/x/page/3/"
    assert urls.archive_path(2021, 1) == "/archive/2021/01/"
    assert urls.archive_path(2021, 1, 4) == "/archive/2021/01/04/"
    assert urls.term_path("tags") == "/tags/"
    assert urls.feed_path("/topics/world/") == "/topics/world/atom.xml"


@pytest.mark.parametrize("path, expected", [
    ("/", "index.html"), ("/a/b/", "a/b/index.html"), ("/404.html", "404.html"),
    ("/tags/x/atom.xml", "tags/x/atom.xml"),
])
def test_output_path_maps_site_paths_to_files(path, expected):
    assert urls.output_path(path) == expected


@pytest.mark.parametrize("path", [
    "/../etc/passwd", "/a/../../b/", "/a/./b/", "//evil.example/x/", "/a%2f..%2fb/",
    "/%2e%2e/x/", "/a\\..\\b/", "/a\0b/", "relative/", "/a//b/", "/C:/x/", "",
])
def test_output_path_refuses_escapes(path):
    with pytest.raises(urls.UnsafePath):
        urls.output_path(path)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["..", ".", "", "a", "b", "%2e%2e", "\\", "\0", "site-old",
                                 "..%2f", "x y", "ä"]), min_size=1, max_size=6),
       st.booleans())
def test_no_output_path_leaves_the_output_directory(segments, trailing):
    path = "/" + "/".join(segments) + ("/" if trailing else "")
    try:
        relative = PurePosixPath(urls.output_path(path))
    except urls.UnsafePath:
        return
    root = PurePosixPath("/srv/site")
    joined = root / relative
    assert not relative.is_absolute()
    assert ".." not in relative.parts
    assert joined.parts[:3] == root.parts  # never a sibling such as /srv/site-old
