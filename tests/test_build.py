"""The whole build: output integrity, determinism, skipped files, strictness, the summary.

Stories come from a small stand-in for ``builder.ingest`` (one JSON file per story) so
these tests pin down the pipeline's own behaviour; ``test_site_links`` builds real files.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import io
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import html5lib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder import ingest, output, pipeline, render
from builder.config import SiteConfig
from builder.errors import BuildError, ContentError, Diagnostic
from builder.model import Story
from builder.report import Reporter


@dataclass(frozen=True)
class FileResult:
    path: str
    stories: tuple[Story, ...]
    diagnostics: tuple[Diagnostic, ...]
    ok: bool


class JsonIngest:
    """Reads ``content/*.json``: one Story per file; a file that is not JSON is unreadable."""

    @staticmethod
    def parse_bytes(data, relative, config):
        try:
            fields = json.loads(data)
        except ValueError:
            problem = Diagnostic(relative, 1, "not a story", hint="fix the file")
            return FileResult(relative, (), (problem,), False)
        fields["date"] = dt.date.fromisoformat(fields["date"]) if fields.get("date") else None
        fields["tags"] = tuple(fields.get("tags", ()))
        return FileResult(relative, (Story(path=relative, **fields),), (), True)

    @staticmethod
    def read_file(path, config):
        relative = path.relative_to(config.content_path).as_posix()
        return JsonIngest.parse_bytes(path.read_bytes(), relative, config)


def use_json_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds read stories with :class:`JsonIngest` (forked workers inherit it)."""
    monkeypatch.setattr(ingest, "read_file", JsonIngest.read_file)
    monkeypatch.setattr(ingest, "parse_bytes", JsonIngest.parse_bytes)


@pytest.fixture
def project(tmp_path, monkeypatch):
    use_json_ingest(monkeypatch)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    (tmp_path / "content").mkdir()
    return tmp_path


def add_story(root: Path, n: int, **fields) -> Path:
    values = dict(id=f"s{n:04d}", title=f"Story {n}", topic=["world", "sport"][n % 2],
                  slug=f"story-{n}", date=(dt.date(2020, 1, 1) + dt.timedelta(days=n)).isoformat(),
                  body=f"Body {n} with **bold** text.", tags=[f"tag{n % 5}", "all"],
                  source=f"Agency {n % 3}", summary=f"Summary {n}.", content_hash=f"h{n}")
    values.update(fields)
    path = root / "content" / f"{n:04d}.json"
    path.write_text(json.dumps(values))
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def config_for(root: Path, **changes) -> SiteConfig:
    # Pagefind indexing has its own tests (test_search.py, test_build_indexes_the_site_for_search);
    # leaving it out keeps these builds fast and their file counts about Gazette's own output.
    changes.setdefault("search", False)
    return SiteConfig(root=root, base_url="https://example.org/news/", **changes)


# -- output.write_site -----------------------------------------------------------------

def leftovers(parent: Path) -> list[str]:
    """Staging folders beside the output (the lock file is meant to stay)."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".site.") and p.is_dir())


def test_write_site_swaps_in_the_new_site_and_removes_stale_files(tmp_path):
    out = tmp_path / "site"
    first = output.write_site([("a/index.html", b"A"), ("old.html", b"O")], out)
    assert first == output.WriteResult(written=2, linked=0)
    inode = (out / "a/index.html").stat().st_ino
    second = output.write_site([("a/index.html", b"A"), ("b.html", b"B")], out)
    assert second == output.WriteResult(written=1, linked=1)
    assert tree(out) == {"a/index.html": b"A", "b.html": b"B"}
    assert (out / "a/index.html").stat().st_ino == inode  # unchanged bytes were not rewritten
    assert leftovers(tmp_path) == []
    assert oct(out.stat().st_mode & 0o777) == "0o755"


def test_an_identical_site_is_left_alone_but_a_stray_file_is_not(tmp_path):
    out = tmp_path / "site"
    files = [("index.html", b"A"), ("a/b/c.html", b"C")]
    output.write_site(files, out)
    folder_inode = out.stat().st_ino
    assert output.write_site(files, out) == output.WriteResult(written=0, linked=2)
    assert out.stat().st_ino == folder_inode  # nothing was swapped
    (out / "a" / "stray.html").write_bytes(b"S")
    (out / "empty").mkdir()
    assert output.write_site(files, out) == output.WriteResult(written=0, linked=2)
    assert tree(out) == dict(files) and not (out / "empty").exists()


def test_a_failed_write_leaves_the_previous_site_and_no_staging_dir(tmp_path):
    out = tmp_path / "site"
    output.write_site([("index.html", b"old")], out)

    def files():
        yield "index.html", b"new"
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError):
        output.write_site(files(), out)
    assert tree(out) == {"index.html": b"old"} and leftovers(tmp_path) == []
    # A file where a folder must go is an OSError: a one-line BuildError, old site kept.
    for clash in ([("a", b"file"), ("a/b.html", b"x")], [("a/b.html", b"x"), ("a", b"file")]):
        with pytest.raises(BuildError) as failure:
            output.write_site(clash, out)
        assert "previous site is unchanged" in str(failure.value)
        assert "\n" not in str(failure.value)
        assert tree(out) == {"index.html": b"old"} and leftovers(tmp_path) == []


def test_write_site_stages_each_file_before_taking_the_next(tmp_path):
    """The writer holds no page but the one in hand: when a file is asked for, the one
    before it is already in the staging tree (a fresh one, then the reserve)."""
    out = tmp_path / "site"
    for version in range(3):  # a first build, a second (no reserve yet), a third on it
        def page(n: int) -> bytes:
            return f"page {n}, version {version}".encode()

        def pages():
            for n in range(30):
                if n:
                    [staging] = leftovers(tmp_path)
                    assert (tmp_path / staging / f"p{n - 1}/index.html").read_bytes() == page(n - 1)
                yield f"p{n}/index.html", page(n)

        assert output.write_site(pages(), out).written == 30
        assert tree(out) == {f"p{n}/index.html": page(n) for n in range(30)}
        assert leftovers(tmp_path) == []


def _stage_all(tree: output.StagingTree, files: list[tuple[str, bytes]]) -> list[output.Staged]:
    return [output.stage_file(tree, relative, data) for relative, data in files]


def test_two_processes_stage_files_into_one_tree_side_by_side(tmp_path):
    """Both make the same folders at once (the build's process and its worker do): every
    file arrives, none is refused, and the tree is the site."""
    files = [(f"tags/t{n % 7}/page/{n % 3}/f{n}/index.html", f"<p>{n}</p>".encode())
             for n in range(400)]
    halves = [files[0::2], files[1::2]]

    def staged_by_two(tree: output.StagingTree | None):
        assert tree is not None  # a first write: nothing to judge, the tree is open to all
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            for half, staged in zip(halves, pool.map(_stage_all, [tree, tree], halves)):
                yield from zip((relative for relative, _ in half), staged)

    site = tmp_path / "site"
    result = output.write_site(staged_by_two, site)
    assert (result.written, result.linked) == (400, 0)
    assert tree(site) == dict(files)
    assert result.identities == output.snapshot(site)


def test_a_stager_never_makes_a_removed_staging_tree_again(tmp_path):
    """A worker still staging after the build failed and removed its tree: it fails."""
    gone = output.StagingTree(str(tmp_path / ".site.gone"), str(tmp_path / "site"))
    with pytest.raises(FileNotFoundError):
        output.stage_file(gone, "2021/01/14/story/index.html", b"<p>late</p>")
    assert not (tmp_path / ".site.gone").exists()


def test_update_site_sets_each_changed_file_aside_before_taking_the_next(tmp_path):
    out = tmp_path / "site"
    old = {f"p{n}.html": b"old" for n in range(10)}
    output.write_site(sorted(old.items()), out)
    present = output.snapshot(out)

    def pages():
        for n in range(10):
            if n:
                [staging] = leftovers(tmp_path)
                assert len(list((tmp_path / staging).iterdir())) == n  # every earlier page
                assert tree(out) == old  # and nothing moved into place yet
            yield f"p{n}.html", f"new {n}".encode()

    result = output.update_site(pages(), out, present)
    assert (result.written, result.deleted) == (10, 0)
    assert tree(out) == {f"p{n}.html": f"new {n}".encode() for n in range(10)}
    assert leftovers(tmp_path) == []


def test_update_site_stopped_by_an_error_mid_stream_changes_nothing(tmp_path):
    out = tmp_path / "site"
    old = {f"p{n}.html": b"old" for n in range(10)}
    output.write_site(sorted(old.items()), out)

    def pages():
        for n in range(10):
            if n == 5:
                raise BuildError("cannot render p5.html")
            yield f"p{n}.html", b"new"

    with pytest.raises(BuildError, match="p5.html"):
        output.update_site(pages(), out, output.snapshot(out))
    assert tree(out) == old and leftovers(tmp_path) == []


def test_staging_left_by_a_killed_build_is_removed_by_the_next(tmp_path):
    out = tmp_path / "site"
    output.write_site([("index.html", b"old")], out)
    (tmp_path / ".site.killed1" / "deep").mkdir(parents=True)
    (tmp_path / ".site-other").mkdir()  # not ours: a sibling with a similar name stays
    output.write_site([("index.html", b"new")], out)
    assert leftovers(tmp_path) == [] and (tmp_path / ".site-other").is_dir()


def test_the_swap_falls_back_to_renames_without_renameat2(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "exchange", lambda a, b: False)
    out = tmp_path / "site"
    output.write_site([("x.html", b"1")], out)
    output.write_site([("y.html", b"2")], out)
    assert tree(out) == {"y.html": b"2"} and leftovers(tmp_path) == []


def test_exchange_swaps_two_directories(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "from-a").touch()
    if not output.exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("renameat2(RENAME_EXCHANGE) not supported here")
    assert (tmp_path / "b" / "from-a").exists() and not (tmp_path / "a" / "from-a").exists()


def test_before_swap_can_add_files_and_a_failure_publishes_nothing(tmp_path):
    out = tmp_path / "site"
    output.write_site([("index.html", b"x")], out,
                      before_swap=lambda staging: (staging / "extra.js").write_bytes(b"js"))
    assert tree(out) == {"extra.js": b"js", "index.html": b"x"}

    def broken(staging):
        raise BuildError("indexer failed")

    with pytest.raises(BuildError):
        output.write_site([("index.html", b"y")], out, before_swap=broken)
    assert tree(out)["index.html"] == b"x" and leftovers(tmp_path) == []


# -- pipeline.build --------------------------------------------------------------------

def test_build_writes_the_whole_site(project):
    for n in range(5):
        add_story(project, n)
    result = pipeline.build(config_for(project, per_page=2))
    site = tree(project / "site")
    assert result.stories == 5 and result.skipped == () and result.written == len(site)
    assert result.pages == len([p for p in site if not p.startswith("static/")]) - 1  # .nojekyll
    for path in ("index.html", "page/3/index.html", "2020/01/02/story-1/index.html",
                 "tags/index.html", "tags/all/index.html", "tags/all/atom.xml",
                 "topics/world/index.html", "sources/agency-1/index.html", "archive/index.html",
                 "archive/2020/index.html", "archive/2020/01/index.html",
                 "archive/2020/01/03/index.html", "atom.xml", "sitemap.xml", "robots.txt",
                 "404.html", ".nojekyll", "static/gazette.css"):
        assert path in site, path
    assert b"https://example.org/news/sitemap.xml" in site["robots.txt"]
    assert [stage for stage, _ in result.timings] == ["read", "assemble", "fingerprint",
                                                      "render+write"]


def test_build_indexes_the_site_for_search(project):
    for n in range(3):
        add_story(project, n)
    result = pipeline.build(config_for(project, search=True))
    site = tree(project / "site")
    assert "search/index.html" in site and "pagefind/pagefind.js" in site
    assert [stage for stage, _ in result.timings] == ["read", "assemble", "fingerprint",
                                                      "render+write", "search"]
    assert b"Search" in site["index.html"]  # linked from the navigation


def test_a_second_build_rewrites_nothing_and_deleted_stories_vanish(project):
    paths = [add_story(project, n) for n in range(4)]
    config = config_for(project)
    pipeline.build(config)
    assert pipeline.build(config).written == 0
    paths[0].unlink()
    pipeline.build(config)
    site = tree(project / "site")
    assert "2020/01/01/story-0/index.html" not in site
    assert b"story-0" not in site["index.html"]


def test_a_note_about_the_cache_is_reported_by_the_build_it_concerns_only(project):
    for n in range(3):
        add_story(project, n)
    config = config_for(project)
    pipeline.build(config)
    (config.cache_path / "gazette.sqlite3").write_bytes(b"not a database" * 10)
    replaced = pipeline.build(config)  # the cache's record is gone: it builds again
    assert [d.message for d in replaced.warnings if "cache" in d.message]
    again = pipeline.build(config)
    assert (again.rendered, again.written) == (0, 0)
    assert not [d.message for d in again.warnings if "cache" in d.message]


def test_where_the_project_is_named_from_does_not_count(project, monkeypatch):
    """`gazette build` from the project folder and `gazette --root /its/path build` (the
    preview server, scripts) are one build: the second renders and parses nothing."""
    for n in range(4):
        add_story(project, n)
    pipeline.build(config_for(project))
    monkeypatch.chdir(project)
    again = pipeline.build(config_for(Path(".")))
    assert (again.rendered, again.parsed, again.written) == (0, 0, 0)


def test_rebuilds_are_byte_identical_across_workers_and_environment(project, monkeypatch):
    for n in range(60):
        add_story(project, n)
    pipeline.build(config_for(project, output_dir="one"), jobs=1)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    os.utime(project / "content" / "0001.json", (0, 0))
    calls = []
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor",
                        lambda **kw: calls.append(kw) or ProcessPoolExecutor(**kw))
    # A cache of its own, so that it parses too rather than reuse the first build's parses.
    pipeline.build(config_for(project, output_dir="two", cache_dir=".cache-two"), jobs=2)
    # read, related coverage and render in 2 processes each: this one and a worker; wire
    # copies found in a worker while this process groups terms
    assert [kw["max_workers"] for kw in calls] == [1, 1, 1, 1]
    assert tree(project / "one") == tree(project / "two")


def test_source_date_epoch_is_the_feed_timestamp(project, monkeypatch):
    add_story(project, 1)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    pipeline.build(config_for(project))
    feed = (project / "site" / "atom.xml").read_bytes()
    assert b"<updated>2023-11-14T22:13:20Z</updated>" in feed


def test_unreadable_files_are_skipped_and_listed(project):
    add_story(project, 1)
    (project / "content" / "broken.json").write_text("{not json")
    result = pipeline.build(config_for(project))
    assert result.stories == 1
    assert [str(d) for d in result.skipped] == [
        "broken.json:1: error: not a story (hint: fix the file)"]
    assert (project / "site" / "index.html").exists()


def test_strict_builds_stop_before_writing(project):
    add_story(project, 1)
    (project / "content" / "broken.json").write_text("{not json")
    with pytest.raises(ContentError) as failure:
        pipeline.build(config_for(project), strict=True)
    assert failure.value.diagnostics[0].path == "broken.json"
    assert not (project / "site").exists()


def test_url_collisions_stop_the_build_and_name_every_source(project):
    """Ids that make one URL under a permalink without {slug} (two slugs alike get apart)."""
    add_story(project, 1)
    config = config_for(project, permalink="/{id}/")
    pipeline.build(config)
    before = tree(project / "site")
    add_story(project, 2, id="S0001", body="Another text.")
    with pytest.raises(BuildError) as failure:
        pipeline.build(config)
    [collision] = failure.value.diagnostics
    assert "0001.json" in collision.message and "0002.json" in collision.message
    assert tree(project / "site") == before


def test_a_broken_user_template_is_a_one_line_error(project):
    add_story(project, 1)
    (project / "templates").mkdir()
    (project / "templates" / "404.html").write_text("{{ missing_value }}")
    with pytest.raises(BuildError) as failure:
        pipeline.build(config_for(project))
    assert "404.html" in str(failure.value) and "missing_value" in str(failure.value)
    assert not (project / "site").exists()


def test_a_template_error_mid_build_keeps_the_previous_site_and_no_staging(project,
                                                                           monkeypatch):
    for n in range(40):
        add_story(project, n)
    config = config_for(project)
    pipeline.build(config, jobs=2)
    pipeline.build(config.replace(title="Second"), jobs=2)  # the first site is the reserve
    before = tree(project / "site")
    assert output.reserve_path(project / "site").is_dir()
    (project / "templates").mkdir()
    story = (render.DEFAULT_TEMPLATES / "story.html").read_text()
    (project / "templates" / "story.html").write_text(
        '{% if entry.story.id == "s0030" %}{{ no_such_value }}{% endif %}' + story)
    monkeypatch.setattr(pipeline, "_ITEMS_PER_TASK", 4)  # results come back in many tasks
    with pytest.raises(BuildError) as failure:
        pipeline.build(config, jobs=2)
    assert "story-30" in str(failure.value) and "story.html" in str(failure.value)
    assert "no_such_value" in str(failure.value)
    assert tree(project / "site") == before and leftovers(project) == []
    # The reserve was being brought up to date when the error came: never trusted again.
    assert not output.reserve_path(project / "site").exists()


@pytest.mark.parametrize("live_site", [False, True], ids=["first build", "site, no reserve"])
def test_a_template_error_while_the_workers_stage_pages_leaves_no_staging(project, monkeypatch,
                                                                        live_site):
    """Without a reserve the workers stage the pages they render themselves; a failure
    stops them, and the staging tree goes, the previous site (if any) untouched."""
    for n in range(40):
        add_story(project, n)
    config = config_for(project)
    if live_site:
        pipeline.build(config, jobs=2)  # a first build swaps in: no reserve yet
        assert not output.reserve_path(project / "site").exists()
    before = tree(project / "site") if live_site else {}
    (project / "templates").mkdir()
    story = (render.DEFAULT_TEMPLATES / "story.html").read_text()
    (project / "templates" / "story.html").write_text(
        '{% if entry.story.id == "s0030" %}{{ no_such_value }}{% endif %}' + story)
    monkeypatch.setattr(pipeline, "_ITEMS_PER_TASK", 4)
    stagers = project / "stagers"  # the process of each page staged, from any process
    stage_file = output.stage_file

    def noted_stage_file(*args):
        with open(stagers, "a") as note:
            note.write(f"{os.getpid()}\n")
        return stage_file(*args)

    monkeypatch.setattr(output, "stage_file", noted_stage_file)
    with pytest.raises(BuildError, match="no_such_value"):
        pipeline.build(config.replace(title="Second"), jobs=2)
    assert tree(project / "site") == before and leftovers(project) == []
    staged_by = set(stagers.read_text().split())
    assert len(staged_by) == 2  # this process and the worker each staged what it rendered


def test_pages_the_workers_stage_are_links_to_the_live_site_where_their_bytes_are(project):
    """The cache gone and no reserve: every page is rendered again, and each worker links
    the live site's file instead of writing the same bytes."""
    for n in range(40):
        add_story(project, n)
    config = config_for(project)
    pipeline.build(config, jobs=2)
    inodes = {p: (project / "site" / p).stat().st_ino for p in tree(project / "site")}
    for path in config.cache_path.iterdir():
        path.unlink()
    result = pipeline.build(config, jobs=2)
    assert result.rendered == result.pages and result.written == 0
    assert {p: (project / "site" / p).stat().st_ino for p in inodes} == inodes


_made_in_this_process = 0


def _numbered_worker(factor: int):
    """A worker that says which process ran it and how many workers that process made."""
    global _made_in_this_process
    _made_in_this_process += 1
    made = _made_in_this_process
    return lambda item: (os.getpid(), made, item * factor)


def _tasks_by_process(results: list, count: int) -> list[set[int]]:
    """The processes that ran each task's items (one per task when tasks stay whole)."""
    return [{pid for pid, _, _ in results[start:end]}
            for start, end in pipeline._tasks(count, 2 + 1 + pipeline._TASKS_AHEAD_PER_WORKER)]


def test_tasks_are_shared_with_a_worker_kept_a_few_ahead(monkeypatch):
    monkeypatch.setattr(pipeline, "_ITEMS_PER_TASK", 3)
    monkeypatch.setattr(pipeline, "_LAST_ITEMS_PER_TASK", 1)
    monkeypatch.setattr(sys.modules[__name__], "_made_in_this_process", 0)
    submitted = []
    submit = ProcessPoolExecutor.submit
    monkeypatch.setattr(ProcessPoolExecutor, "submit",
                        lambda pool, *task: submitted.append(task) or submit(pool, *task))
    switch_interval = sys.getswitchinterval()
    ahead = 1 + pipeline._TASKS_AHEAD_PER_WORKER
    results = []
    for result in pipeline._map(_numbered_worker, range(40), pipeline._Workers(2, 1), 10):
        results.append(result)
        handed_out = sum(end <= len(results) for _, end in pipeline._tasks(40, 2 + ahead))
        assert len(submitted) <= handed_out + ahead  # the worker's queue stays short
    assert [value for _, _, value in results] == [n * 10 for n in range(40)]
    assert all(len(pids) == 1 for pids in _tasks_by_process(results, 40))  # tasks stay whole
    assert len(submitted) == sum(pids != {os.getpid()} for pids in _tasks_by_process(results, 40))
    for pid in {pid for pid, _, _ in results}:  # one worker made per process
        assert len({made for ran_in, made, _ in results if ran_in == pid}) == 1
    assert _made_in_this_process == 1
    assert sys.getswitchinterval() == switch_interval  # shortened only while the pool ran


def _slow_to_start_in_workers(parent: int, seconds: float):
    if os.getpid() != parent:
        time.sleep(seconds)  # as a worker compiling the templates
    return lambda item: (os.getpid(), 0, item)


def test_this_process_runs_tasks_while_the_worker_is_busy(monkeypatch):
    """It runs the next tasks itself rather than wait for a worker's results, as many as a
    worker has queued."""
    monkeypatch.setattr(pipeline, "_ITEMS_PER_TASK", 3)
    monkeypatch.setattr(pipeline, "_LAST_ITEMS_PER_TASK", 1)
    ahead = 1 + pipeline._TASKS_AHEAD_PER_WORKER
    results = list(pipeline._map(_slow_to_start_in_workers, range(60),
                                 pipeline._Workers(2, 1), os.getpid(), 0.5))
    by_task = _tasks_by_process(results, 60)
    assert all(pids != {os.getpid()} for pids in by_task[:ahead])  # queued for the worker
    assert by_task[ahead:2 * ahead] == [{os.getpid()}] * ahead  # run here meanwhile


def test_the_worker_runs_the_tasks_while_this_process_consumes(monkeypatch):
    """Consuming results (storing parses, writing pages) is this process's work too: while
    it is slow at that, the worker's results are ready whenever it looks, and it runs few
    tasks itself (a few while the worker starts)."""
    monkeypatch.setattr(pipeline, "_ITEMS_PER_TASK", 3)
    monkeypatch.setattr(pipeline, "_LAST_ITEMS_PER_TASK", 1)
    results = []
    for result in pipeline._map(_numbered_worker, range(60), pipeline._Workers(2, 1), 1):
        time.sleep(0.02)
        results.append(result)
    here = sum(pids == {os.getpid()} for pids in _tasks_by_process(results, 60))
    assert here < len(_tasks_by_process(results, 60)) / 2


def _where_and(value: int) -> tuple[int, int]:
    if value < 0:
        raise ValueError(f"negative: {value}")
    return os.getpid(), value * 2


def test_spawned_work_runs_in_another_process_and_its_result_or_error_comes_back():
    spawn = pipeline._spawner(pipeline._Workers(2, 1), 2)
    ran_in, value = spawn(lambda: _where_and(21))()
    assert ran_in != os.getpid() and value == 42
    failing = spawn(lambda: _where_and(-1))
    with pytest.raises(ValueError, match="negative: -1"):
        failing()
    alone = pipeline._spawner(pipeline._Workers(2, 500), 10)  # too little work for a process
    assert alone(lambda: _where_and(1))() == (os.getpid(), 2)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_freed_memory_goes_back_to_the_system_before_workers_fork():
    """A forked worker's RSS starts with every resident page of this process, freed or not."""
    import ctypes

    if not hasattr(ctypes.CDLL(None), "malloc_trim") or not Path("/proc/self/statm").exists():
        pytest.skip("needs glibc and /proc")
    blocks = [bytes(4000) for _ in range(25_000)]  # 100 MB in blocks the C allocator keeps
    last = blocks[-1]  # the heap cannot shrink from its end past this one
    del blocks
    freed = _resident_bytes()
    pipeline._release_free_memory()
    assert _resident_bytes() < freed - 50 * 2**20
    assert len(last) == 4000


@given(count=st.integers(0, 5000), shares=st.integers(1, 12))
def test_tasks_cover_the_items_in_order_and_shrink_towards_the_end(count, shares):
    tasks = pipeline._tasks(count, shares)
    if not count:
        assert tasks == []
        return
    assert [start for start, _ in tasks] == [0, *(end for _, end in tasks[:-1])]
    assert tasks[-1][1] == count
    sizes = [end - start for start, end in tasks]
    assert all(0 < size <= pipeline._ITEMS_PER_TASK for size in sizes)
    assert sizes[:-1] == sorted(sizes[:-1], reverse=True)  # the last one takes what is left
    for (start, end) in tasks[:-1]:  # a share of what remains, however small it gets
        assert end - start == max(pipeline._LAST_ITEMS_PER_TASK,
                                  min(pipeline._ITEMS_PER_TASK, (count - start) // shares))


def test_check_reports_without_writing(project):
    add_story(project, 1)
    add_story(project, 2, body="Body 1 with **bold** text.")  # an exact copy of story 1
    (project / "content" / "broken.json").write_text("nope")
    result = pipeline.check(config_for(project))
    assert result.stories == 1
    assert [d.path for d in result.errors] == ["broken.json"]
    assert any("exact copy" in d.message for d in result.warnings)
    assert not (project / "site").exists()


# -- report ----------------------------------------------------------------------------

def test_build_summary_is_one_line_after_the_diagnostics(project):
    add_story(project, 1)
    (project / "content" / "broken.json").write_text("{")
    stream = io.StringIO()
    reporter = Reporter.for_stream(stream)
    result = pipeline.build(config_for(project), progress=reporter.progress)
    reporter.build_summary(result)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("broken.json:1: error")
    assert lines[1].startswith(f"built 1 stories, {result.pages} pages ({result.rendered} "
                               f"rendered, {result.written} written), 1 skipped in ")
    assert len(lines) == 2  # no progress bar when the stream is not a terminal


def test_progress_bar_on_a_terminal_and_profile_lines():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    reporter = Reporter.for_stream(stream)
    reporter.progress("render", 5, 10)
    reporter.progress("render", 10, 10)
    assert "render   [###############---------------] 5/10" in stream.getvalue()
    assert stream.getvalue().endswith("10/10\n")
    result = pipeline.BuildResult(stories=1, pages=2, written=2, skipped=(), warnings=(),
                                  seconds=2.0, timings=(("read", 0.5), ("render+write", 1.5)))
    stream = io.StringIO()
    Reporter.for_stream(stream).build_summary(result, profile=True)
    assert stream.getvalue().splitlines()[1:] == ["  read            0.500 s   25.0%",
                                                  "  render+write    1.500 s   75.0%"]


# -- the seed story, read by the real ingest ------------------------------------------

SEED = Path(__file__).parent / "fixtures" / "seed" / "000_a203978440becfc5.txt"


def test_the_seed_story_appears_everywhere_a_reader_looks(tmp_path):
    (tmp_path / "content" / "politics").mkdir(parents=True)
    (tmp_path / "content" / "politics" / SEED.name).write_bytes(SEED.read_bytes())
    result = pipeline.build(config_for(tmp_path))
    assert result.stories == 1 and result.skipped == ()
    site = tmp_path / "site"
    [page] = [p for p in site.glob("2021/01/14/*/index.html")]
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    story = parser.parse(page.read_bytes())
    headline = "".join(story.find(".//h1").itertext())
    assert headline.startswith("Phone conversation between Vladimir Putin")
    assert "".join(story.find(".//time").itertext()) == "14 January 2021"
    facts = {"".join(dt_.itertext()): "".join(dd.itertext())
             for dt_, dd in zip(story.iter("dt"), story.iter("dd"))}
    assert facts["Source"] == "Trend"
    tags = ["".join(a.itertext()) for a in story.iter("a") if a.get("rel") == "tag"]
    assert "Recep Tayyip Erdogan" in tags and "Vladimir Putin" in tags
    story_url = "/news/" + page.parent.relative_to(site).as_posix() + "/"
    listings = ["index.html", "topics/politics/index.html", "archive/2021/01/index.html",
                "archive/2021/01/14/index.html", "sources/trend/index.html",
                *(f"tags/{slug}/index.html" for slug in ("recep-tayyip-erdogan", "vladimir-putin"))]
    for listing in listings:
        assert f'href="{story_url}"' in (site / listing).read_text(), listing
    absolute = "https://example.org" + story_url
    for feed in ("atom.xml", "topics/politics/atom.xml", "tags/vladimir-putin/atom.xml",
                 "sources/trend/atom.xml"):
        assert absolute in (site / feed).read_text(), feed
    assert absolute in (site / "sitemap.xml").read_text()
