"""The build cache: keys that cover what parsing depends on, crash safety, concurrency,
schema versions and damaged or unusable databases."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from builder import cache as cache_module
from builder.cache import (DATABASE_NAME, PAGE_ONLY_SETTINGS, SCHEMA_VERSION, BuildRecord,
                           Cache, PublishedFile, parse_context, story_key)
from builder.config import SiteConfig
from builder.ingest import parse_bytes

REPO = Path(__file__).resolve().parent.parent
STORY = (b" date 2021-01-14 By Trend\n\nBAKU, Azerbaijan, Jan. 14. The Ministry of Economy "
         b"of Azerbaijan has signed a deal, Trend reports.\n\nMore text follows here.\n---\n\n"
         b"Follow us on Twitter @AzerNewsAz")


def run_child(script: str, *args: str) -> subprocess.Popen:
    """Start a Python child that can import builder, its stdout a pipe."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# -- keys ----------------------------------------------------------------------------------

def test_a_parse_result_survives_a_reopen(tmp_path):
    config = SiteConfig(root=tmp_path)
    result = parse_bytes(STORY, "economy/000_a203978440becfc5.txt", config)
    key = story_key(parse_context(config), "economy/000_a203978440becfc5.txt", STORY)
    with Cache.open(tmp_path / "cache") as cache:
        cache.store_parsed({key: result})
    with Cache.open(tmp_path / "cache") as cache:
        found = cache.parsed([key, "missing"])
    assert list(found) == [key]
    assert found[key] == result
    assert found[key].stories[0].warnings == result.stories[0].warnings
    assert found[key].stories[0].title == result.stories[0].title


def test_a_stored_parse_reads_back_with_its_body_whole(tmp_path):
    """Curly quotes and a lone surrogate included: a body is stored packed, as it is held."""
    config = SiteConfig(root=tmp_path)
    curly = STORY.replace(b"signed a deal", "signed a \u201cdeal\u201d".encode())
    result = parse_bytes(curly, "economy/000_a203978440becfc5.txt", config)
    story = result.stories[0]
    assert "\u201cdeal\u201d" in story.body
    odd = dataclasses.replace(story, body="half a pair: \ud800 \u201cquoted\u201d")
    with Cache.open(tmp_path / "cache") as cache:
        cache.store_parsed({"key": result, "odd": dataclasses.replace(result, stories=(odd,))})
    with Cache.open(tmp_path / "cache") as cache:
        found = cache.parsed(["key", "odd"])
    assert found["key"].stories[0].body == story.body
    assert found["odd"].stories[0].body == "half a pair: \ud800 \u201cquoted\u201d"
    assert found["odd"].stories[0] == odd


def test_the_key_covers_bytes_path_and_parse_settings(tmp_path):
    context = parse_context(SiteConfig(root=tmp_path))
    keys = {story_key(context, "a/1.txt", STORY), story_key(context, "b/1.txt", STORY),
            story_key(context, "a/1.txt", STORY + b"!"),
            story_key(parse_context(SiteConfig(root=tmp_path, timezone="Asia/Baku")),
                      "a/1.txt", STORY),
            story_key(parse_context(SiteConfig(root=tmp_path, tag_stoplist=("Trend",))),
                      "a/1.txt", STORY)}
    assert len(keys) == 5
    # Settings that only shape pages keep every parsed story.
    assert parse_context(SiteConfig(root=tmp_path, title="Other", per_page=5,
                                    base_url="https://x.org/a/")) == context


def test_ingest_reads_no_page_only_setting():
    """Guards PAGE_ONLY_SETTINGS: a setting ingest starts reading must leave that set, or
    changing it would keep stale parsed stories."""
    derived = {"tzinfo": {"timezone"}, "day_first": {"date_order"},
               "content_path": {"root", "content_dir"}}
    read: dict[str, set[str]] = {}
    for source in (REPO / "builder" / "ingest").rglob("*.py"):
        for name in re.findall(r"\bconfig\.(\w+)", source.read_text(encoding="utf-8")):
            for setting in derived.get(name, {name}):
                read.setdefault(setting, set()).add(source.name)
    # discover() alone reads `ignore` (which files), read_file() alone `root` (how a
    # diagnostic names the file); the cached path calls parse_bytes, which reads neither.
    assert read.get("ignore", set()) <= {"__init__.py"}
    assert read.get("root", set()) <= {"__init__.py"}
    assert not (set(read) - {"ignore", "root"}) & PAGE_ONLY_SETTINGS
    assert set(read) - {"ignore", "root"}, "no setting found: the pattern above is stale"


# -- versions and damage -------------------------------------------------------------------

def test_another_schema_version_empties_the_cache(tmp_path, monkeypatch):
    with Cache.open(tmp_path) as cache:
        cache.store_parsed({"k": "value"})
        assert cache.notes == ()
    monkeypatch.setattr(cache_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Cache.open(tmp_path) as cache:
        assert cache.parsed(["k"]) == {}
        assert "schema" in cache.notes[0].message
        cache.store_parsed({"k": "newer"})
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)


def test_a_file_that_is_not_a_database_is_replaced(tmp_path):
    (tmp_path / DATABASE_NAME).write_bytes(b"this is not SQLite" * 100)
    with Cache.open(tmp_path) as cache:
        assert "replaced" in cache.notes[0].message
        cache.store_parsed({"k": 1})
        assert cache.parsed(["k"]) == {"k": 1}
    with Cache.open(tmp_path) as cache:
        assert cache.notes == ()
        assert cache.parsed(["k"]) == {"k": 1}


def test_an_unusable_folder_gives_a_cache_in_memory(tmp_path):
    (tmp_path / "blocker").write_text("a file where the cache folder should be")
    with Cache.open(tmp_path / "blocker" / "cache") as cache:
        assert cache.location == ":memory:"
        assert cache.notes[0].hint and "cannot use the build cache" in cache.notes[0].message
        cache.store_parsed({"k": 1})
        assert cache.parsed(["k"]) == {"k": 1}


def test_a_damaged_row_is_a_miss(tmp_path):
    with Cache.open(tmp_path) as cache:
        cache.store_parsed({"good": 1, "bad": 2})
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        db.execute("UPDATE parsed SET result = x'00ff' WHERE key = 'bad'")
    with Cache.open(tmp_path) as cache:
        assert cache.parsed(["good", "bad"]) == {"good": 1}


# -- crashes and concurrency ---------------------------------------------------------------

WRITER = """
    import sys, time
    from pathlib import Path
    from builder.cache import Cache
    cache = Cache.open(Path(sys.argv[1]))
    batch = 0
    while True:
        cache.store_parsed({f"{batch}-{n}": "x" * 2000 for n in range(50)})
        print(batch, flush=True)
        batch += 1
"""


def test_a_killed_writer_leaves_a_readable_cache_with_whole_transactions(tmp_path):
    child = run_child(WRITER, str(tmp_path))
    for _ in range(5):  # let it commit a few batches, then kill it mid-way through more
        child.stdout.readline()
    time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Cache.open(tmp_path) as cache:
        assert cache.notes == ()
        keys = [f"{batch}-{n}" for batch in range(200) for n in range(50)]
        found = cache.parsed(keys)
    batches = {key.split("-")[0] for key in found}
    assert len(batches) >= 5
    for batch in batches:  # all of a batch or none of it
        assert all(f"{batch}-{n}" in found for n in range(50))


HOLDER = """
    import sys, time
    from pathlib import Path
    from builder.cache import Cache, PublishedFile

    class Slow(dict):
        def items(self):
            for n in range(100):
                if n == 50:
                    print("inside", flush=True)
                    time.sleep(30)
                yield f"page{n}.html", PublishedFile(b"fp", 1, 1, 1)

    cache = Cache.open(Path(sys.argv[1]))
    cache.record_build(Path(sys.argv[1]), b"in", "summary", Slow())
"""


def test_a_writer_killed_inside_its_transaction_leaves_the_previous_record(tmp_path):
    with Cache.open(tmp_path) as cache:
        cache.record_build(tmp_path, b"old", ("old",), {"old.html": PublishedFile(b"fp", 1, 2, 3)})
    child = run_child(HOLDER, str(tmp_path))
    assert child.stdout.readline().strip() == "inside"
    with Cache.open(tmp_path) as cache:  # a reader is not blocked by the open transaction
        assert set(cache.last_build(tmp_path).files) == {"old.html"}
    child.send_signal(signal.SIGKILL)
    child.wait()
    with Cache.open(tmp_path) as cache:
        last = cache.last_build(tmp_path)
        assert (last.inputs, last.summary) == (b"old", ("old",))
        assert last.files == {"old.html": PublishedFile(b"fp", 1, 2, 3)}
        cache.record_build(tmp_path, b"new", ("new",), {"new.html": PublishedFile(b"fp", 4, 5, 6)})
        assert set(cache.last_build(tmp_path).files) == {"new.html"}


READER_WRITER = """
    import sys
    from pathlib import Path
    from builder.cache import Cache
    name, other = sys.argv[2], sys.argv[3]
    seen = 0
    with Cache.open(Path(sys.argv[1])) as cache:
        for batch in range(40):
            cache.store_parsed({f"{name}-{batch}-{n}": (name, batch, n) for n in range(25)})
            seen = max(seen, len(cache.parsed([f"{other}-{b}-0" for b in range(40)])))
    print(seen)
"""


def test_two_processes_read_and_write_at_once(tmp_path):
    children = [run_child(READER_WRITER, str(tmp_path), "a", "b"),
                run_child(READER_WRITER, str(tmp_path), "b", "a")]
    outputs = [child.communicate(timeout=60) for child in children]
    for child, (out, err) in zip(children, outputs):
        assert child.returncode == 0, err
    with Cache.open(tmp_path) as cache:
        everything = {f"{name}-{batch}-{n}": (name, batch, n)
                      for name in "ab" for batch in range(40) for n in range(25)}
        assert cache.parsed(list(everything)) == everything
        with sqlite3.connect(cache.location) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# -- housekeeping --------------------------------------------------------------------------

def test_retain_keeps_memory_exact_and_prunes_the_database_only_when_it_doubled(tmp_path):
    with Cache.open(tmp_path) as cache:
        cache.store_parsed({f"k{n}": n for n in range(300)})
        cache.retain_parsed([f"k{n}" for n in range(150)])  # 300 <= 2 * 150 + 100: kept
        with Cache.open(tmp_path) as other:
            assert len(other.parsed([f"k{n}" for n in range(300)])) == 300
        cache.retain_parsed([f"k{n}" for n in range(10)])  # 300 > 120: pruned
        with Cache.open(tmp_path) as other:
            assert set(other.parsed([f"k{n}" for n in range(300)])) == {
                f"k{n}" for n in range(10)}


def test_the_last_build_is_recorded_and_forgotten_with_its_folder(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    gone = tmp_path / "old-preview"
    gone.mkdir()
    with Cache.open(tmp_path / "cache") as cache:
        cache.record_build(gone, b"x", None, {"x.html": PublishedFile(b"1", 1, 1, 1)})
        gone.rmdir()
        cache.record_build(site, b"inputs", {"stories": 2},
                           {"a.html": PublishedFile(b"fp-a", 1, 2, 3)}, b"tree")
        assert cache.last_build(gone) is None  # folders that no longer exist are forgotten
        assert cache.build_record(gone) is None
        last = cache.last_build(site)
        assert (last.inputs, last.summary) == (b"inputs", {"stories": 2})
        assert last.files["a.html"].fingerprint == b"fp-a"
        assert cache.build_record(site) == BuildRecord(b"inputs", {"stories": 2}, b"tree")
        cache.forget_build(site)
        assert cache.last_build(site) is None
        assert cache.build_record(site) is None


# -- derived values ------------------------------------------------------------------------

def test_a_derived_value_is_computed_once_and_survives_a_reopen(tmp_path):
    calls = []

    def compute(value):
        def run():
            calls.append(value)
            return {"related": (value,)}
        return run

    with Cache.open(tmp_path) as store:
        assert store.remembered(b"k1", compute("a")) == {"related": ("a",)}
        assert store.remembered(b"k1", compute("b")) == {"related": ("a",)}
    with Cache.open(tmp_path) as store:
        assert store.remembered(b"k1", compute("c")) == {"related": ("a",)}
        assert store.remembered(b"k2", compute("d")) == {"related": ("d",)}
    assert calls == ["a", "d"]


def test_only_the_newest_derived_values_are_kept(tmp_path):
    with Cache.open(tmp_path) as store:
        for number in range(cache_module._DERIVED_KEPT + 5):
            store.remembered(b"key%d" % number, lambda number=number: number)
        store.remembered(b"key0", lambda: "again")  # used most recently now, recomputed
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        keys = {bytes(row[0]) for row in db.execute("SELECT key FROM derived")}
    assert len(keys) == cache_module._DERIVED_KEPT and b"key0" in keys
    with Cache.open(tmp_path) as store:
        assert store.remembered(b"key0", lambda: "third") == "again"
        assert store.remembered(b"key1", lambda: "gone") == "gone"


def test_a_damaged_derived_value_is_computed_again(tmp_path):
    with Cache.open(tmp_path) as store:
        store.remembered(b"k", lambda: 1)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        db.execute("UPDATE derived SET value = x'00ff'")
    with Cache.open(tmp_path) as store:
        assert store.remembered(b"k", lambda: 2) == 2


def test_a_new_record_of_a_big_site_writes_what_differs_and_reads_back_whole(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    first = {f"p{n}.html": PublishedFile(b"fp%d" % n, n, n, n) for n in range(100)}
    second = {**{k: v for k, v in first.items() if k != "p3.html"},
              "p5.html": PublishedFile(b"new", 5, 6, 7), "added.html": PublishedFile(b"a", 1, 1, 1)}
    with Cache.open(tmp_path) as cache:
        cache.record_build(site, b"one", "summary", first)
        cache.record_build(site, b"two", "summary", second)
        assert cache.last_build(site).files == second
    with Cache.open(tmp_path) as cache:
        assert (cache.last_build(site).inputs, cache.last_build(site).files) == (b"two", second)


def test_a_record_written_by_another_process_meanwhile_is_replaced_whole(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    mine = {"a.html": PublishedFile(b"a", 1, 1, 1), "b.html": PublishedFile(b"b", 2, 2, 2)}
    with Cache.open(tmp_path) as cache, Cache.open(tmp_path) as other:
        cache.record_build(site, b"one", "summary", mine)
        other.record_build(site, b"other", "summary",
                           {**mine, "c.html": PublishedFile(b"c", 3, 3, 3),
                            "a.html": PublishedFile(b"changed", 9, 9, 9)})
        # What differs from the record this cache wrote is nothing: were it to write only
        # that, the other's rows would stay.
        cache.record_build(site, b"one", "summary", mine)
    with Cache.open(tmp_path) as cache:
        assert cache.last_build(site).files == mine


def test_only_a_cache_asked_to_keeps_parses_in_memory(tmp_path):
    """The preview's cache hands a build the very parse objects of the last (so unchanged
    stories are the same objects); a one-shot build's holds none through rendering."""
    result = parse_bytes(STORY, "economy/000_a203978440becfc5.txt", SiteConfig(root=tmp_path))
    with Cache.open(tmp_path / "cache") as cache:
        cache.store_parsed({"key": result})
    with Cache.open(tmp_path / "cache", long_lived=True) as cache:
        kept = cache.parsed(["key"])["key"]
        assert cache.parsed(["key"])["key"] is kept
    with Cache.open(tmp_path / "cache") as cache:
        assert cache.parsed(["key"])["key"] is not cache.parsed(["key"])["key"]


# -- the site model ------------------------------------------------------------------------

def model_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("site-model-"))


def test_a_kept_model_reads_back_only_for_its_output_and_under_its_code(tmp_path):
    site, other = tmp_path / "site", tmp_path / "other"
    site.mkdir()
    other.mkdir()
    with Cache.open(tmp_path / "cache") as cache:
        assert cache.kept_model(site, b"code 1") is None
        cache.keep_model(site, b"code 1", {"site": ("pages", 1)})
        cache.keep_model(site, b"code 1", {"site": ("pages", 2)})  # replaces it whole
        cache.keep_model(other, b"code 1", {"site": ("other", 1)})
    with Cache.open(tmp_path / "cache") as cache:
        assert cache.kept_model(site, b"code 1") == {"site": ("pages", 2)}
        assert cache.kept_model(other, b"code 1") == {"site": ("other", 1)}
        assert cache.kept_model(site, b"code 2") is None
        assert cache.kept_model(tmp_path / "third", b"code 1") is None
    names = model_files(tmp_path / "cache")
    assert len(names) == 4 and all(n.endswith((".pickle", ".pickle.lock")) for n in names)


def test_the_models_of_output_folders_gone_are_removed(tmp_path):
    site, gone = tmp_path / "site", tmp_path / "gone"
    site.mkdir()
    gone.mkdir()
    with Cache.open(tmp_path / "cache") as cache:
        cache.keep_model(gone, b"code", [1])
        gone.rmdir()
        cache.keep_model(site, b"code", [2])
        assert cache.kept_model(gone, b"code") is None
        assert cache.kept_model(site, b"code") == [2]
    assert len(model_files(tmp_path / "cache")) == 2  # the model of site, and its lock


@pytest.mark.parametrize("damage", [
    lambda path: path.write_bytes(path.read_bytes()[:-100]),  # cut short
    lambda path: path.write_bytes(b"not a pickle"),
    lambda path: path.unlink(),
])
def test_a_damaged_or_missing_model_is_none(tmp_path, damage):
    with Cache.open(tmp_path) as cache:
        cache.keep_model(tmp_path, b"code", list(range(10_000)))
        (model,) = [tmp_path / n for n in model_files(tmp_path) if n.endswith(".pickle")]
        damage(model)
        assert cache.kept_model(tmp_path, b"code") is None
        cache.keep_model(tmp_path, b"code", [1])
        assert cache.kept_model(tmp_path, b"code") == [1]


def test_a_model_that_cannot_be_kept_leaves_the_last_one_and_no_partial_file(tmp_path):
    with Cache.open(tmp_path) as cache:
        cache.keep_model(tmp_path, b"code", [1])
        cache.keep_model(tmp_path, b"code", [lambda: "cannot be pickled"])
        assert cache.kept_model(tmp_path, b"code") == [1]
        assert not [n for n in model_files(tmp_path) if n.endswith(".partial")]
        os.chmod(tmp_path, 0o500)
        try:
            if os.access(tmp_path, os.W_OK):
                pytest.skip("this user may write to any folder")
            cache.keep_model(tmp_path, b"code", [2])
        finally:
            os.chmod(tmp_path, 0o755)
        assert cache.kept_model(tmp_path, b"code") == [1]


def test_a_cache_in_memory_keeps_no_model(tmp_path):
    (tmp_path / "file").write_text("in the way")
    with Cache.open(tmp_path / "file") as cache:  # not a folder: kept in memory
        assert cache.location == ":memory:"
        cache.keep_model(tmp_path, b"code", [1])
        assert cache.kept_model(tmp_path, b"code") is None
