"""Property tests: no input crashes or hangs the parsers; slugs always have their shape."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.config import SiteConfig
from builder.ingest import parse_bytes, story_slug
from builder.ingest.dates import DateError, parse_date
from builder.ingest.headers import parse_headers
from builder.ingest.slug import MAX_SLUG_BYTES, RESERVED_SLUGS, SLUG_PATTERN
from builder.normalize import to_markdown

CONFIG = SiteConfig()
# The parse time budget: no generated file may take a second to parse (a typical story
# takes about a millisecond), so a regex that backtracks without bound fails here.
FAST = settings(max_examples=150, deadline=1000,
                suppress_health_check=[HealthCheck.too_slow])

# Text that looks like story files: header keywords, dates, separators, markup, junk.
_PIECES = st.sampled_from([
    " date ", "date 2021-01-14", " By Trend", "Title: ", "Date: ", "---", "\n", "\n\n",
    "\r\n", "<REUTERS>", "</REUTERS>", "<DATE>", "</DATE>", "<TEXT>", "<BODY>", "</BODY>",
    "</TEXT>", "<nitf>", "</nitf>", "<p>", "&lt;", "&#3;", "Reuter", "14.01.2021",
    "2021-02-30", "Jan. 13, 2021", "MOSCOW, Jan 13 (Reuters) - ", "@AzerNewsAz", "\x03",
    "title: \"x\"", "tags: [a", ": ", "Putin", "Russian", "\ufeff", "é", "<BBF>",
])
story_like = st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=40).map("".join)


@FAST
@given(st.binary(max_size=600))
def test_parse_bytes_never_raises_on_bytes(data):
    _check(parse_bytes(data, "t/x.txt", CONFIG))


@FAST
@given(story_like)
def test_parse_bytes_never_raises_on_story_like_text(text):
    result = parse_bytes(text.encode("utf-8"), "t/x.txt", CONFIG)
    _check(result)
    for story in result.stories:  # whatever was read can be written and read back the same
        markdown = to_markdown(story)
        again = parse_bytes(markdown.encode("utf-8"), "t/x.txt", CONFIG)
        assert again.ok, (markdown, again.diagnostics)
        assert to_markdown(again.stories[0]) == markdown


_YAML_VALUES = st.one_of(
    st.from_regex(r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?( ?[+-]\d{1,2}(:\d{2})?|Z)?)?",
                  fullmatch=True),
    st.sampled_from(["yes", "no", "null", "~", "[a, b", "{x: 1}", "!!binary '%%'", "&a [*a]",
                     "'quoted'", '"esc \\u0041"', "- item", "1e400", "0x1F", "|", ">-"]),
    st.text(max_size=15),
)


@FAST
@given(st.lists(st.tuples(st.sampled_from(["title", "date", "updated", "tags", "slug", "draft",
                                           "source", "x"]), _YAML_VALUES), max_size=6),
       st.text(max_size=40))
def test_front_matter_never_raises(entries, body):
    head = "\n".join(f"{key}: {value}" for key, value in entries)
    result = parse_bytes(f"---\n{head}\n---\n{body}".encode("utf-8", "surrogatepass"),
                         "t/x.txt", CONFIG)
    _check(result)


def _check(result):
    assert all(d.path == "content/t/x.txt" and d.message for d in result.diagnostics)
    assert all(d.hint for d in result.diagnostics if d.is_error)
    assert result.ok == (not any(d.is_error for d in result.diagnostics))
    for story in result.stories:
        assert SLUG_PATTERN.fullmatch(story.slug) and story.title
        assert story.date is None or isinstance(story.date, dt.date)


@FAST
@given(st.text(max_size=60))
def test_date_parser_returns_or_raises_date_error(text):
    try:
        parsed = parse_date(text, day_first=False)
    except DateError as exc:
        assert exc.hint
    else:
        assert parsed is None or isinstance(parsed.value, dt.date)


@FAST
@given(st.lists(st.one_of(st.from_regex(r"[A-Za-z-]{1,12}: ?[^\n]{0,20}", fullmatch=True),
                          st.text(max_size=20)), max_size=12))
def test_header_parser_never_raises(lines):
    draft = parse_headers(["Title: x", *lines])
    assert draft.title is not None and all(p.line for p in draft.problems)


@FAST
@given(st.text(max_size=200), st.text(min_size=1, max_size=20))
def test_slugs_always_have_their_shape(title, story_id):
    slug = story_slug(title, story_id)
    assert SLUG_PATTERN.fullmatch(slug)
    assert 1 <= len(slug.encode()) <= MAX_SLUG_BYTES
    assert slug not in RESERVED_SLUGS
    assert slug == story_slug(title, story_id)


def test_reserved_and_empty_titles_fall_back_to_a_hash():
    assert story_slug("Index", "a1").startswith("s-")
    assert story_slug("東京", "a1").startswith("s-")
    assert story_slug("東京", "a1") != story_slug("東京", "a2")
    assert story_slug("Café über Straße", "a1") == "cafe-uber-strasse"
    assert len(story_slug("word " * 40, "a1")) <= MAX_SLUG_BYTES
