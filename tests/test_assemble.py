"""Assembling stories into the site: order, terms, archive, pagination, copies, collisions."""

import dataclasses
import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder import assemble as assembly
from builder.assemble import Link, Page, Site, assemble, find_collisions, same, term_key
from builder.similarity import Sketcher
from builder.slugs import short_hash
from builder.config import SiteConfig
from builder.model import Story


def story(n, **changes):
    values = dict(id=f"id{n:03d}", path=f"world/{n:03d}.txt", title=f"Story {n}",
                  date=dt.date(2021, 1, 1) + dt.timedelta(days=n), topic="world",
                  slug=f"story-{n}", body=f"Body of story {n}.", content_hash=f"h{n}")
    values.update(changes)
    return Story(**values)


def urls_of(site, template):
    return [p.url for p in site.pages if p.template == template]


def test_stories_are_newest_first_with_undated_last():
    stories = [story(1), story(3), story(2), story(4, date=None)]
    site = assemble(stories, SiteConfig(allow_undated=True))
    assert [e.story.id for e in site.entries] == ["id003", "id002", "id001", "id004"]
    assert "/undated/story-4/" in urls_of(site, "story.html")
    assert "/undated/" in urls_of(site, "list.html")


def test_drafts_are_not_published():
    site = assemble([story(1), story(2, draft=True)], SiteConfig())
    assert [e.story.id for e in site.entries] == ["id001"]


def test_tags_differing_by_case_or_normalisation_are_one_term_under_the_commonest_spelling():
    stories = [story(1, tags=("CAFE", "Straße")), story(2, tags=("cafe", "STRASSE")),
               story(3, tags=("cafe", "Cafe\u0301")), story(4, tags=("Caf\u00e9",))]
    tags = {t.slug: t for t in assemble(stories, SiteConfig()).taxonomies["tags"]}
    assert tags["cafe"].name == "cafe" and tags["cafe"].count == 3
    assert tags["cafe"].spellings == ("CAFE", "cafe")
    # NFC and NFD spellings of café are one term (but not the same as plain "cafe").
    accented = [t for t in tags.values() if term_key(t.name) == term_key("Caf\u00e9")]
    assert len(accented) == 1 and accented[0].count == 2
    # Straße and STRASSE each appear once: the tie goes to the alphabetically first.
    assert tags["strasse"].name == "STRASSE" and tags["strasse"].count == 2


def test_distinct_names_with_the_same_slug_get_separate_pages_and_a_warning():
    site = assemble([story(1, tags=("C++",)), story(2, tags=("C",))], SiteConfig())
    slugs = sorted(t.slug for t in site.taxonomies["tags"])
    assert slugs[0] == "c" and slugs[1].startswith("c-") and len(set(slugs)) == 2
    [warning] = [d for d in site.diagnostics if "same URL name" in d.message]
    assert warning.severity == "warning"
    assert "'C++'" in warning.message and "'C'" in warning.message
    assert warning.path == "content/world/001.txt"  # the story carrying the renamed tag


def test_taxonomies_count_sources_publishers_and_topics():
    stories = [story(1, source="Trend", publisher="AzerNews", topic="politics"),
               story(2, source="Trend", topic="politics"), story(3, source="Reuters")]
    site = assemble(stories, SiteConfig())
    counts = {kind: {t.name: t.count for t in terms} for kind, terms in site.taxonomies.items()}
    assert counts["sources"] == {"Reuters": 1, "Trend": 2}
    assert counts["publishers"] == {"AzerNews": 1}
    assert counts["topics"] == {"politics": 2, "world": 1}
    assert [link.label for link in site.nav] == ["Home", "Topics", "Sources", "Publishers",
                                                 "Archive", "Search"]


def test_exact_copies_are_published_once_with_a_warning():
    original = story(1, body="Same words  here.", content_hash="aaa")
    by_body = story(2, body="Same words here.", content_hash="bbb")
    by_hash = story(3, body="Other words.", content_hash="aaa")
    headline_only = [story(4, body=""), story(5, body="")]
    site = assemble([original, by_body, by_hash, *headline_only], SiteConfig())
    assert sorted(e.story.id for e in site.entries) == ["id001", "id004", "id005"]
    copies = sorted(d.path for d in site.diagnostics if "exact copy" in d.message)
    assert copies == ["content/world/002.txt", "content/world/003.txt"]
    assert all("world/001.txt" in d.message for d in site.diagnostics if "exact copy" in d.message)


def test_lists_are_paginated_by_per_page():
    site = assemble([story(n, tags=("x",)) for n in range(5)], SiteConfig(per_page=2))
    assert urls_of(site, "list.html") == ["/", "/page/2/", "/page/3/"]
    term_pages = [p.url for p in site.pages if p.template == "term.html"]
    assert [url for url in term_pages if url.startswith("/tags/x/")] \
        == ["/tags/x/", "/tags/x/page/2/", "/tags/x/page/3/"]
    last = next(p for p in site.pages if p.url == "/page/3/")
    assert [e.story.id for e in last.data["entries"]] == ["id000"]
    assert last.data["pagination"].prev.url == "/page/2/" and last.data["pagination"].next is None


def test_pagination_window_skips_far_pages():
    site = assemble([story(n) for n in range(20)], SiteConfig(per_page=1))
    page = next(p for p in site.pages if p.url == "/page/10/")
    window = [link.label if link else None for link in page.data["pagination"].window]
    assert window == ["1", None, "8", "9", "10", "11", "12", None, "20"]


def test_story_pages_link_previous_next_and_more_from_the_topic():
    stories = [story(n, topic="world" if n % 2 else "sport") for n in range(1, 8)]
    site = assemble(stories, SiteConfig(related_count=2))
    page = next(p for p in site.pages if p.url == "/2021/01/04/story-3/")
    assert page.data["older"].story.id == "id002" and page.data["newer"].story.id == "id004"
    assert [e.story.id for e in page.data["more"]] == ["id005", "id001"]
    assert all(e.story.topic == "world" for e in page.data["more"])
    first = next(p for p in site.pages if p.url == "/2021/01/02/story-1/")
    assert first.data["older"] is None


def test_date_archive_counts_years_months_and_days():
    stories = [story(1, date=dt.date(2020, 12, 31)), story(2, date=dt.date(2021, 1, 14)),
               story(3, date=dt.date(2021, 1, 14)), story(4, date=dt.date(2021, 2, 1))]
    site = assemble(stories, SiteConfig())
    [y2021, y2020] = site.archive
    assert (y2021.label, y2021.count, y2020.count) == ("2021", 3, 1)
    assert [(m.label, m.count) for m in y2021.children] == [("February 2021", 1),
                                                              ("January 2021", 2)]
    day = y2021.children[1].children[0]
    assert (day.url, day.count) == ("/archive/2021/01/14/", 2)
    assert {"/archive/", "/archive/2021/", "/archive/2021/01/", "/archive/2021/01/14/"} \
        <= {p.url for p in site.pages}


def test_without_day_pages_months_list_every_story_of_their_days():
    stories = [story(1, date=dt.date(2021, 1, 2)), story(2, date=dt.date(2021, 1, 14)),
               story(3, date=dt.date(2021, 1, 14)), story(4, date=dt.date(2021, 2, 1))]
    with_days = assemble(stories, SiteConfig())
    without = assemble(stories, SiteConfig(archive_days=False))
    archive_urls = {p.url for p in without.pages if p.url.startswith("/archive/")}
    assert archive_urls == {"/archive/", "/archive/2021/", "/archive/2021/01/",
                            "/archive/2021/02/"}
    assert all(not month.children for year in without.archive for month in year.children)
    [january] = [m for m in without.archive[0].children if m.url == "/archive/2021/01/"]
    assert january.count == 3

    def month_page(site: Site) -> Page:
        return next(p for p in site.pages if p.url == "/archive/2021/01/")
    assert [e.story.id for e in month_page(without).data["entries"]] \
        == [e.story.id for e in month_page(with_days).data["entries"]] == ["id003", "id002", "id001"]
    assert month_page(without).data["days"] == ()


def test_feeds_hold_the_newest_feed_size_stories():
    site = assemble([story(n, tags=("x",)) for n in range(10)], SiteConfig(feed_size=3))
    feed = next(p for p in site.pages if p.url == "/atom.xml")
    assert [e.story.id for e in feed.data["entries"]] == ["id009", "id008", "id007"]
    assert {"/tags/x/atom.xml", "/topics/world/atom.xml"} <= {p.url for p in site.pages}
    assert feed.data["updated"] == dt.date(2021, 1, 10)  # the newest story date


def test_build_time_from_the_caller_wins_over_story_dates():
    moment = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert assemble([story(1)], SiteConfig(), build_time=moment).updated == moment


def test_colliding_story_urls_are_reported_with_every_source():
    """A permalink without {slug}: ids that make one URL cannot be told apart by a slug."""
    site = assemble([story(1, id="Wire-1", body="a"), story(2, id="wire-1", body="b")],
                    SiteConfig(permalink="/{id}/"))
    [collision] = find_collisions(site.pages, {})
    assert "world/001.txt" in collision.message and "world/002.txt" in collision.message
    assert collision.is_error and "wire-1/index.html" in collision.message


def test_two_stories_headlined_alike_on_one_day_both_get_a_page():
    first = story(1, slug="talks-open", date=dt.datetime(2021, 1, 2, 9, tzinfo=dt.timezone.utc))
    later = story(2, slug="talks-open", body="Another report.",
                  date=dt.datetime(2021, 1, 2, 15, tzinfo=dt.timezone.utc))
    site = assemble([later, first], SiteConfig())
    url = {e.story.id: e.url for e in site.entries}
    assert url["id001"] == "/2021/01/02/talks-open/"  # the earlier keeps the URL
    assert url["id002"] == f"/2021/01/02/talks-open-{short_hash('id002')}/"
    assert find_collisions(site.pages, {}) == ()
    [warning] = [d for d in site.diagnostics if "talks-open" in d.message]
    assert warning.severity == "warning" and warning.path == "content/world/002.txt"
    assert "world/001.txt" in warning.message and "slug:" in warning.hint
    # A third report, later that day, gets a URL of its own and moves neither page.
    third = story(3, slug="talks-open", date=dt.datetime(2021, 1, 2, 20, tzinfo=dt.timezone.utc))
    again = {e.story.id: e.url for e in assemble([first, later, third], SiteConfig()).entries}
    assert (again["id001"], again["id002"]) == (url["id001"], url["id002"])
    assert again["id003"] == f"/2021/01/02/talks-open-{short_hash('id003')}/"


def test_a_static_file_that_shadows_a_page_is_a_collision():
    site = assemble([story(1)], SiteConfig())
    [collision] = find_collisions(site.pages, {"robots.txt": "static file static/robots.txt"})
    assert "static/robots.txt" in collision.message


def test_assembly_is_deterministic_whatever_the_input_order():
    stories = [story(n, tags=(f"t{n % 3}", "all"), source=f"S{n % 2}") for n in range(30)]
    shuffled = stories[:]
    random.Random(4).shuffle(shuffled)
    assert assemble(stories, SiteConfig()).pages == assemble(shuffled, SiteConfig()).pages


def test_cname_and_nojekyll_files():
    site = assemble([story(1)], SiteConfig(cname="news.example.org"))
    assert dict(site.files) == {".nojekyll": b"", "CNAME": b"news.example.org\n"}


# -- reusing a previous site (the preview server's rebuilds) ---------------------------------

@pytest.mark.parametrize("edit", [
    {"body": "Corrected body."},  # its text alone
    {"source": "S0"},  # a term it is filed under
])  # Without sketches given, both are whole assemblies lending the previous site's values
# (the patch, which needs them, is tested below).
def test_a_previous_site_lends_the_pages_an_edit_leaves_alone(edit):
    stories = [story(n, tags=(f"t{n % 3}", "all"), source=f"S{n % 2}") for n in range(40)]
    config = SiteConfig(per_page=5)
    before = assemble(stories, config)
    stories[7] = dataclasses.replace(stories[7], **edit)
    again = assemble(stories, config, previous=before)
    assert again == assemble(stories, config)  # lending changes nothing in the result
    old = {page.output: page for page in before.pages}
    new_objects = {page.url for page in again.pages if page is not old.get(page.output)}
    # The edited story's page, and the pages showing it: lists and feeds it is on, the
    # stories next to it in its topic; not the pages of stories and terms far from it.
    assert {stories[7].date.strftime("/%Y/%m/%d/") + stories[7].slug + "/",
            "/2021/01/09/story-8/", "/tags/t1/page/3/"} <= new_objects
    assert "/tags/t1/" not in new_objects  # page 1 of the same tag does not show it
    assert "/tags/t0/" not in new_objects and "/2021/01/31/story-30/" not in new_objects
    assert len(new_objects) < len(again.pages) / 4
    assert all(entry is next(e for e in before.entries if e.story.id == entry.story.id)
               for entry in again.entries if entry.story.id != "id007")


def test_a_site_assembled_with_other_settings_lends_nothing():
    stories = [story(n, tags=("all",)) for n in range(10)]
    before = assemble(stories, SiteConfig(title="One"))
    again = assemble(stories, SiteConfig(title="Two"), previous=before)
    assert not {id(p) for p in again.pages} & {id(p) for p in before.pages}
    assert again == assemble(stories, SiteConfig(title="Two"))


def test_same_is_stricter_than_equality():
    moment = dt.datetime(2021, 1, 14, 12, tzinfo=dt.timezone.utc)
    elsewhere = moment.astimezone(dt.timezone(dt.timedelta(hours=4)))
    assert moment == elsewhere and not same(moment, elsewhere)  # one instant, shown apart
    assert 1 == True and not same(1, True)  # noqa: E712
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})  # templates iterate in order
    assert story(1) == story(1) and not same(story(1), story(1))  # a story is only itself
    one = story(1)
    assert same((Link("x", "/x/"), one, {"k": [moment]}), (Link("x", "/x/"), one, {"k": [moment]}))
    assert not same(Link("x", "/x/"), Link("x", "/y/"))


# -- patching a previous site (an edit of a story's text alone) ------------------------------

WORDS = [f"w{n}" for n in range(400)]


def text(n, extra=""):
    """Sixty words of their own per ``n``: no two texts are near copies."""
    return " ".join(random.Random(n).choices(WORDS, k=60)) + extra


def sketched(stories):
    sketcher = Sketcher()
    return {s.id: sketcher.sketch(s.body) for s in stories}


def test_an_edit_of_a_story_text_alone_patches_the_previous_site(monkeypatch):
    stories = [story(n, tags=(f"t{n % 3}",), body=text(n)) for n in range(30)]
    config = SiteConfig(per_page=4)
    before = assemble(stories, config, sketches=sketched(stories))
    stories[5] = dataclasses.replace(stories[5], body=text(5, " corrected"), summary="New.",
                                     byline="A. Reporter", content_hash="h5b")
    whole = assemble(stories, config, sketches=sketched(stories))

    def not_again(*args, **kwargs):
        raise AssertionError("the site was assembled again instead of patched")

    monkeypatch.setattr(assembly, "_taxonomies", not_again)
    again = assemble(stories, config, sketches=sketched(stories), previous=before)
    assert again == whole
    page = next(p for p in again.pages if p.data.get("entry") is again.entries[-6])
    assert page.description == "New." and page.data["entry"].story is stories[5]
    unchanged = {id(p) for p in before.pages}
    assert sum(id(p) not in unchanged for p in again.pages) < len(again.pages) / 3


KINDS = ("reword", "summary", "byline", "exact_copy", "near_copy", "retitle", "draft", "same")


@settings(max_examples=60, deadline=None)
@given(edits=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 19), st.integers(0, 19)),
                      min_size=1, max_size=5),
       copies=st.lists(st.tuples(st.integers(0, 19), st.integers(0, 19)), max_size=2))
def test_a_patched_site_equals_a_whole_assembly(edits, copies):
    """Edits of text alone are patched in; edits that make or end an exact or near copy, or
    move a story, are not: either way the site equals one assembled from nothing."""
    stories = [story(n, tags=(f"t{n % 4}", f"u{n % 3}"), source=f"S{n % 3}", body=text(n),
                     date=dt.date(2021, 1, 1 + n % 9)) for n in range(20)]
    for copy, of in copies:  # copies present before the edits
        stories[copy] = dataclasses.replace(stories[copy], body=stories[of].body)
    config = SiteConfig(per_page=3, related_count=3)
    before = assemble(stories, config, sketches=sketched(stories))
    for kind, n, other in edits:
        edited = stories[n]
        stories[n] = {
            "reword": lambda: dataclasses.replace(edited, body=text(n, f" v{other}"),
                                                  content_hash=f"h{n}v{other}"),
            "summary": lambda: dataclasses.replace(edited, summary=f"Summary {other}."),
            "byline": lambda: dataclasses.replace(edited, byline=f"By {other}", footer="F"),
            "exact_copy": lambda: dataclasses.replace(edited, body=stories[other].body),
            "near_copy": lambda: dataclasses.replace(edited, body=stories[other].body + " w1"),
            "retitle": lambda: dataclasses.replace(edited, title=f"Story {n} v{other}"),
            "draft": lambda: dataclasses.replace(edited, draft=not edited.draft),
            "same": lambda: dataclasses.replace(edited),  # equal, but another object
        }[kind]()
    again = assemble(stories, config, sketches=sketched(stories), previous=before)
    assert again == assemble(stories, config, sketches=sketched(stories))


@pytest.mark.parametrize("copy", ["exact", "near"])
def test_an_edit_that_ends_a_copy_is_not_patched(copy):
    """Story 2 repeats story 1 (published once; or grouped under it as a wire copy): once
    story 1 is reworded, story 2 stands on its own, which patching could not show."""
    stories = [story(n, body=text(n)) for n in range(6)]
    stories[2] = dataclasses.replace(
        stories[2], body=stories[1].body + (" w1" if copy == "near" else ""))
    config = SiteConfig(per_page=3)
    before = assemble(stories, config, sketches=sketched(stories))
    assert len(before.entries) == (5 if copy == "exact" else 6)
    stories[1] = dataclasses.replace(stories[1], body=text(100))  # another text altogether
    again = assemble(stories, config, sketches=sketched(stories), previous=before)
    assert again == assemble(stories, config, sketches=sketched(stories))
    assert len(again.entries) == 6 and not again.duplicates.groups


@pytest.mark.parametrize("copy", ["exact", "near"])
@pytest.mark.parametrize("patched_before", [False, True], ids=["first patch", "later patch"])
def test_an_edit_that_makes_a_copy_is_not_patched(copy, patched_before):
    """Story 2 is reworded into a copy of story 4: the whole site changes (one of them is
    published once, or they are grouped as one wire copy), which patching could not show.
    Also when the site was patched before, story 4 reworded (what the first patch learnt is
    handed on, brought up to date)."""
    stories = [story(n, body=text(n)) for n in range(6)]
    config = SiteConfig(per_page=3)
    before = assemble(stories, config, sketches=sketched(stories))
    if patched_before:
        stories[4] = dataclasses.replace(stories[4], body=text(104))
        before = assemble(stories, config, sketches=sketched(stories), previous=before)
        assert before.patching is not None
    stories[2] = dataclasses.replace(
        stories[2], body=stories[4].body + (" w1" if copy == "near" else ""))
    again = assemble(stories, config, sketches=sketched(stories), previous=before)
    assert again == assemble(stories, config, sketches=sketched(stories))
    assert len(again.entries) == 5 if copy == "exact" else again.duplicates.groups
