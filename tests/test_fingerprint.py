"""Fingerprints: equal data gives equal digests in any process; any difference shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from builder.assemble import Link, Page
from builder.errors import Diagnostic
from builder.fingerprint import (Digests, Fingerprinter, RecordDigester, _encoder,
                                 folder_digest)
from builder.model import Story

REPO = Path(__file__).resolve().parent.parent
STORY = Story(id="a1", path="world/a1.md", title="Title", date=dt.date(2021, 1, 14),
              topic="world", slug="title", body="Body text.", tags=("Baku", "OPEC"))


def page(**data: object) -> Page:
    return Page(url="/x/", output="x/index.html", template="list.html", title="T",
                description="D", data=data)


def test_equal_pages_have_equal_fingerprints_whoever_computes_them():
    first = Fingerprinter(b"context").page(page(entries=(STORY,), heading="H"))
    copy = dataclasses.replace(STORY, tags=tuple(STORY.tags))
    assert Fingerprinter(b"context").page(page(entries=(copy,), heading="H")) == first
    script = ("import datetime as dt; from tests.test_fingerprint import page, STORY;"
              "from builder.fingerprint import Fingerprinter;"
              "print(Fingerprinter(b'context').page(page(entries=(STORY,), heading='H')).hex())")
    other = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                           text=True, env={"PYTHONPATH": str(REPO), "PYTHONHASHSEED": "7"})
    assert other.stdout.strip() == first.hex(), other.stderr


@pytest.mark.parametrize("change", [
    lambda: page(entries=(dataclasses.replace(STORY, body="Body text!"),), heading="H"),
    lambda: page(entries=(dataclasses.replace(STORY, date=dt.datetime(2021, 1, 14)),),
                 heading="H"),
    lambda: page(entries=(dataclasses.replace(STORY, warnings=(
        Diagnostic("a", 1, "warned"),)),), heading="H"),  # a field == ignores still counts
    lambda: page(entries=(STORY, STORY), heading="H"),
    lambda: page(entries=(STORY,), heading="H", extra=None),
    lambda: page(entries=(STORY,), heading=1),
    lambda: page(entries=[STORY], heading="H"),
    lambda: page(entries=(STORY,), heading="H", link=Link("H", "/")),
    lambda: dataclasses.replace(page(entries=(STORY,), heading="H"), template="term.html"),
])
def test_any_difference_changes_the_fingerprint(change):
    fingerprinter = Fingerprinter(b"context")
    assert fingerprinter.page(change()) != fingerprinter.page(page(entries=(STORY,), heading="H"))


def test_the_context_is_part_of_every_fingerprint():
    assert Fingerprinter(b"a").page(page()) != Fingerprinter(b"b").page(page())


def test_values_that_print_alike_differ():
    fingerprinter = Fingerprinter(b"")
    digests = {fingerprinter.of(v) for v in (1, 1.0, True, "1", b"1", ("1",), ["1"], None,
                                                 "None", ("a", "b"), ("ab",), ("a", ("b",)))}
    assert len(digests) == 12


def test_an_unknown_type_is_refused_not_guessed():
    with pytest.raises(TypeError, match="cannot fingerprint"):
        Fingerprinter(b"").page(page(thing=object()))


def test_folder_digest_sees_names_and_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "base.html").write_text("x")
    before = folder_digest([tmp_path / "a", tmp_path / "missing"])
    (tmp_path / "a" / "base.html").write_text("y")
    after = folder_digest([tmp_path / "a", tmp_path / "missing"])
    (tmp_path / "a" / "base.html").rename(tmp_path / "a" / "other.html")
    renamed = folder_digest([tmp_path / "a", tmp_path / "missing"])
    assert len({before, after, renamed}) == 3
    assert folder_digest([tmp_path / "missing", tmp_path / "a"]) != renamed  # order counts


class _Name(str):
    pass


def test_kinds_that_print_alike_differ():
    """Values whose text, or items, are alike but whose kind a template can tell apart."""
    from collections import namedtuple
    pair, other = namedtuple("pair", "a b"), namedtuple("other", "a b")
    fingerprinter = Fingerprinter(b"")
    values = ["x", "path:x", Path("x"), _Name("x"), f"time:{dt.date(2021, 1, 14)!r}",
              dt.date(2021, 1, 14), dt.datetime(2021, 1, 14), ("a", "b"), pair("a", "b"),
              other("a", "b"), ["a", "b"], b"x", 0.0, -0.0, 0, False, {"a": "b"},
              frozenset({"a", "b"}), Link("x", "/"), Link(_Name("x"), "/"), Link(1, "/"),
              Link(True, "/"), Link(1.0, "/"), Link(("x",), "/"), (Link("x", "/"),)]
    digests = [fingerprinter.of(value) for value in values]
    assert len(set(digests)) == len(values)
    fresh = Fingerprinter(b"")  # what the first one remembered changes nothing
    assert [fresh.of(value) for value in reversed(values)] == digests[::-1]


def test_mapping_order_counts_and_set_order_does_not():
    fingerprinter = Fingerprinter(b"")
    assert fingerprinter.of({"a": 1, "b": 2}) != fingerprinter.of({"b": 2, "a": 1})
    assert fingerprinter.of({3, 1, 2}) == fingerprinter.of({1, 2, 3})
    assert fingerprinter.of(frozenset({"b", "a"})) == fingerprinter.of(frozenset({"a", "b"}))


def test_a_remembered_record_and_an_equal_copy_agree_and_a_changed_copy_does_not():
    fingerprinter = Fingerprinter(b"c")
    first = fingerprinter.page(page(entries=(STORY, STORY), heading="H"))
    copies = (dataclasses.replace(STORY), dataclasses.replace(STORY))
    assert fingerprinter.page(page(entries=copies, heading="H")) == first
    changed = (STORY, dataclasses.replace(STORY, tags=("Baku",)))
    assert fingerprinter.page(page(entries=changed, heading="H")) != first


def test_an_unknown_type_deep_inside_is_refused():
    with pytest.raises(TypeError, match="cannot fingerprint"):
        Fingerprinter(b"").page(page(entries=((Link("a", object()),),)))
    with pytest.raises(TypeError, match="cannot fingerprint"):
        Fingerprinter(b"").of(dataclasses.replace(STORY, tags=(1j,)))


def test_digests_handed_to_the_next_fingerprinter_give_the_same_fingerprints():
    """The preview server's rebuilds start from the last build's digests of the stories
    they show again (the very same objects)."""
    other = dataclasses.replace(STORY, id="b2", title="Other")
    first = Fingerprinter(b"one")
    before = first.page(page(entries=(STORY, other), heading="H"))
    known = first.known_digests([STORY, other, dataclasses.replace(STORY)])
    assert set(known.memo) == {id(STORY), id(other)}  # only what it met: not the equal copy
    second = Fingerprinter(b"one", known=[known])
    assert second.page(page(entries=(STORY, other), heading="H")) == before
    edited = dataclasses.replace(STORY, body="Edited.")
    assert (second.page(page(entries=(edited, other), heading="H"))
            == Fingerprinter(b"one").page(page(entries=(edited, other), heading="H")) != before)
    # A record's digest does not depend on the context: only pages mix it in.
    assert (Fingerprinter(b"two", known=[known]).page(page(entries=(STORY,)))
            == Fingerprinter(b"two").page(page(entries=(STORY,))))


def test_a_digest_made_where_the_story_is_parsed_is_the_one_the_build_would_make():
    """Workers digest each story as they parse it; the build's fingerprinter takes those
    digests as known, in another process, for an equal copy of the story (unpickled)."""
    other = dataclasses.replace(STORY, id="b2", title="Other", warnings=(
        Diagnostic("world/b2.md", 3, "a warning", hint="fix it"),))
    record_digest = RecordDigester()
    made = Digests.of((story, record_digest(story)) for story in (STORY, other))
    shown = page(entries=(STORY, other), heading="H")
    assert Fingerprinter(b"ctx", known=[made]).page(shown) == Fingerprinter(b"ctx").page(shown)
    assert record_digest(other) != record_digest(dataclasses.replace(other, warnings=()))
    with pytest.raises(TypeError, match="not a record"):
        record_digest(Link("a", "/a/"))  # a link is written out where it is shown


def test_a_record_digester_keeps_nothing_of_a_record_once_it_is_digested():
    """Builds pause the cyclic collector: a digester that kept a story (or made a knot of
    closures per story) held every parsed story until the build ended."""
    digester = RecordDigester()
    story = dataclasses.replace(STORY, id="c3", warnings=(
        Diagnostic("world/c3.md", 3, "a warning", hint="fix it"),))
    references = sys.getrefcount(story), sys.getrefcount(story.warnings[0])
    first = digester(story)
    assert (sys.getrefcount(story), sys.getrefcount(story.warnings[0])) == references
    assert digester(story) == first == RecordDigester()(story)  # nothing carried over


def test_digests_changed_by_records_gone_and_new_leave_the_old_ones_as_they_were():
    other = dataclasses.replace(STORY, id="b2", title="Other")
    edited = dataclasses.replace(STORY, title="Edited")
    record_digest = RecordDigester()
    before = Digests.of((story, record_digest(story)) for story in (STORY, other))
    after = before.changed([STORY], [(edited, record_digest(edited))])
    assert after == Digests.of((story, record_digest(story)) for story in (other, edited))
    assert len(before) == 2 and id(STORY) in before.memo  # a copy: the old ones stay usable


def test_installed_versions_are_the_ones_importlib_metadata_reads():
    import importlib.metadata

    from builder.fingerprint import _RENDER_LIBRARIES, installed_version

    for name in _RENDER_LIBRARIES:
        assert installed_version(name) == importlib.metadata.version(name), name
    assert installed_version("no-such-distribution-here") == "absent"


def test_installed_versions_come_from_dist_info_and_egg_info_folder_names(tmp_path, monkeypatch):
    from builder import fingerprint

    (tmp_path / "foo_bar-1.2.3.dist-info").mkdir()
    (tmp_path / "Old_Lib-0.9-py3.11.egg-info").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    fingerprint._installed_versions.cache_clear()
    try:
        assert fingerprint.installed_version("Foo.Bar") == "1.2.3"
        assert fingerprint.installed_version("old-lib") == "0.9"
    finally:
        fingerprint._installed_versions.cache_clear()


def test_a_fingerprinter_that_forgets_texts_gives_the_same_fingerprints(monkeypatch):
    """Its texts and links are bounded (:data:`builder.fingerprint._KEPT`): forgetting
    them midway changes no fingerprint."""
    pages = [page(entries=(dataclasses.replace(STORY, id=f"a{n}", title=f"Title {n}"),),
                  links=tuple(Link(f"Tag {n % 7}", f"/tags/{n % 7}/") for _ in range(3)),
                  heading=f"Heading {n % 5}") for n in range(40)]
    remembering = Fingerprinter(b"context")
    expected = [remembering.page(each) for each in pages]
    monkeypatch.setattr("builder.fingerprint._KEPT", 3)
    forgetting = Fingerprinter(b"context")
    assert [forgetting.page(each) for each in pages] == expected
    texts: dict[str, bytes] = {}
    encode, _ = _encoder({}, {}, texts)
    for each in pages:
        encode(each)
        assert len(texts) <= 3


def test_unpickled_digests_are_filed_under_the_ids_of_the_records_they_bring():
    """Digests are filed by the id of their record; pickled (as a kept site model is), the
    records come back as new objects, under new ids, and the digests must follow them."""
    other = dataclasses.replace(STORY, id="b2", title="Other")
    fingerprinter = Fingerprinter(b"context")
    pages = [page(entries=(STORY,)), page(entries=(other,), heading="H")]
    fingerprints = list(map(fingerprinter.page, pages))
    pages_again, digests = pickle.loads(pickle.dumps((pages, fingerprinter.digests())))
    assert len(digests) == len(fingerprinter.digests())
    assert all(key == id(record) for key, record in digests.records.items())
    assert digests.memo.keys() == digests.records.keys()
    stories_again = {id(p.data["entries"][0]) for p in pages_again}
    assert stories_again <= digests.memo.keys()  # the very objects the pages hold
    assert list(map(Fingerprinter(b"context", known=[digests]).page, pages_again)) == fingerprints
