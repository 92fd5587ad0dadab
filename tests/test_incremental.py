"""Incremental builds: after any sequence of changes, the site equals a fresh full build
byte for byte; a second build renders nothing; an edit re-renders only the pages showing
the edited story; one process and two give the same site."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder import discover, output, pipeline, render
from builder.assemble import assemble
from builder.cache import Cache
from builder.config import SiteConfig
from builder.model import Story
from test_output_recorded import clock_is_fine

TOPICS = ("world", "sport", "economy")
TAGS = ("Baku", "Ankara", "Caspian", "Silk Road", "OPEC", "Olympics")


def story_text(n: int, version: int = 0, tags: tuple[str, ...] = ("Baku",),
               day: int | None = None) -> str:
    day = day if day is not None else 1 + n % 27
    return (f"---\ntitle: Story {n} v{version}\ndate: 2021-0{1 + n % 3}-{day:02d}\n"
            f"tags: [{', '.join(tags)}]\nsource: Agency {n % 4}\n---\n"
            f"Body of story {n}, version {version}. " * 3 + "\n\nA second paragraph.\n")


def make_project(root: Path, count: int) -> SiteConfig:
    for n in range(count):
        write(root / "content" / TOPICS[n % 3] / f"{n:03d}_{n:016x}.md",
              story_text(n, tags=(TAGS[n % len(TAGS)], TAGS[(n * 7) % len(TAGS)])))
    return SiteConfig(root=root, base_url="https://example.org/news/", per_page=3, search=False)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def fresh_site(config: SiteConfig, name: str) -> dict[str, bytes]:
    """A full build with a new, empty cache into a new output folder."""
    fresh = config.replace(output_dir=f"fresh-{name}", cache_dir=f".cache-fresh-{name}")
    pipeline.build(fresh, jobs=1)
    try:
        return tree(fresh.output_path)
    finally:
        shutil.rmtree(fresh.output_path)
        shutil.rmtree(fresh.cache_path)


@pytest.fixture(autouse=True)
def fixed_environment(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


# -- the property --------------------------------------------------------------------------

def stories_in(config: SiteConfig) -> list[Path]:
    return sorted(config.content_path.rglob("*.md"))


def apply(change: tuple, config: SiteConfig, step: int) -> None:
    """Apply one change; indices wrap around the stories present."""
    kind, index, value = change
    files = stories_in(config)
    if kind == "add" or not files:
        n = 100 + step
        write(config.content_path / TOPICS[value % 3] / f"{n:03d}_{n:016x}.md",
              story_text(n, tags=(TAGS[value % len(TAGS)],)))
        return
    path = files[index % len(files)]
    n = int(path.name[:3])
    if kind == "edit":  # the body (and title) of one story
        write(path, story_text(n, version=step, tags=tags_of(path)))
    elif kind == "reword":  # its text alone: the preview's builds patch the site
        body, _, _ = path.read_text(encoding="utf-8").rpartition("\n\n")
        write(path, f"{body}\n\nA second paragraph, reworded {step}.\n")
    elif kind == "retag":
        write(path, story_text(n, tags=(TAGS[value % len(TAGS)], TAGS[index % len(TAGS)])))
    elif kind == "redate":
        write(path, story_text(n, tags=tags_of(path), day=1 + value % 27))
    elif kind == "delete":
        path.unlink()
    elif kind == "rename":  # to another topic folder: another topic and URL
        target = config.content_path / TOPICS[value % 3] / f"{n:03d}_{n:016x}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    elif kind == "template":  # a user's template overriding Gazette's, edited again
        name, addition = (("base.html", f"<!-- edit {step} -->\n"),
                          ("robots.txt", f"# edit {step}\n"),
                          ("term.html", f"{{# edit {step}: changes no byte #}}"))[value % 3]
        original = (render.DEFAULT_TEMPLATES / name).read_text(encoding="utf-8")
        write(config.templates_path / name, original + addition)
    elif kind == "static":
        write(config.static_path / "extra.css", f"/* edit {step} */\n")


def tags_of(path: Path) -> tuple[str, ...]:
    line = next(line for line in path.read_text().splitlines() if line.startswith("tags:"))
    return tuple(tag.strip() for tag in line[len("tags: ["):-1].split(","))


CHANGES = st.tuples(
    st.sampled_from(["add", "edit", "reword", "retag", "redate", "delete", "rename", "template", "static",
                     "settings"]),
    st.integers(0, 40), st.integers(0, 40))


def builds_in_new_processes() -> Callable[..., pipeline.BuildResult]:
    """Each build as `gazette build` runs it: nothing kept in memory between them."""
    return pipeline.build


class ToldBuilds(pipeline.WarmBuilds):
    """The preview server's builds: each told the files changed since the last, as its
    watcher reports them (the files whose bytes differ; a rename is two)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[Path, bytes] | None = None

    def __call__(self, config: SiteConfig, **options) -> pipeline.BuildResult:
        now = {path: path.read_bytes() for folder in (config.content_path,
                                                      config.templates_path)
               for path in folder.rglob("*") if path.is_file()}
        seen, self._seen = self._seen, now
        changed = None if seen is None else {
            str(path.absolute()) for path in seen.keys() | now.keys()
            if seen.get(path) != now.get(path)}
        return super().__call__(config, changed=changed, **options)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(5, 30), changes=st.lists(CHANGES, min_size=1, max_size=4))
@pytest.mark.parametrize("builds", [builds_in_new_processes, pipeline.WarmBuilds, ToldBuilds],
                         ids=["cold", "warm", "told"])
def test_after_any_changes_the_site_equals_a_fresh_full_build(builds, count, changes):
    """Also for the preview server's builds (warm): they reuse the last build's pages,
    fingerprints and record of its output directory; and told what changed, they look at
    those files alone."""
    build = builds()
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as done:
        if isinstance(build, pipeline.WarmBuilds):
            done.callback(build.close)
        config = make_project(Path(folder), count)
        build(config, jobs=1)
        for step, change in enumerate(changes):
            if change[0] == "settings":  # what every page shows, or how lists are cut
                config = config.replace(title=f"Archive {change[1] % 2}",
                                        per_page=3 + change[2] % 2)
            else:
                apply(change, config, step)
            result = build(config, jobs=1)
            assert tree(config.output_path) == fresh_site(config, str(step)), change
            assert result.rendered <= result.pages
            if isinstance(build, pipeline.WarmBuilds):
                assert not build.unseen_changes()


def test_a_change_no_watcher_reported_is_found_by_a_look_at_every_file(tmp_path):
    """The preview server's check once a build told what changed is live: a change the
    watcher missed (its queue overflowed) is found, and a build told nothing sees it."""
    config = make_project(tmp_path, 6)
    builds = pipeline.WarmBuilds()
    try:
        builds(config, jobs=1)
        assert not builds.unseen_changes()
        missed = stories_in(config)[2]
        write(missed, story_text(2, version=9))
        builds(config, jobs=1, changed=set())  # told of nothing
        assert builds.unseen_changes()
        assert tree(config.output_path) != fresh_site(config, "told")
        builds(config, jobs=1)
        assert not builds.unseen_changes()
        assert tree(config.output_path) == fresh_site(config, "missed")
    finally:
        builds.close()


# -- what a rebuild renders ----------------------------------------------------------------

def test_a_second_build_renders_and_writes_nothing(tmp_path):
    config = make_project(tmp_path, 12)
    first = pipeline.build(config, jobs=1)
    assert first.rendered == first.pages and first.parsed == 12
    second = pipeline.build(config, jobs=1)
    assert (second.rendered, second.written, second.parsed) == (0, 0, 0)
    assert (second.pages, second.stories) == (first.pages, first.stories)
    assert [stage for stage, _ in second.timings] == ["read"]  # nothing changed: stopped early


def test_an_input_that_changes_no_page_renders_nothing(tmp_path):
    config = make_project(tmp_path, 12)
    first = pipeline.build(config, jobs=1)
    write(config.content_path / "world" / "empty.md", "")  # skipped, with an error
    second = pipeline.build(config, jobs=1)
    assert [d.path for d in second.skipped] == ["content/world/empty.md"]
    assert (second.rendered, second.written, second.parsed) == (0, 0, 1)
    assert second.pages == first.pages


def test_a_page_edited_or_deleted_by_hand_is_rendered_again(tmp_path):
    config = make_project(tmp_path, 8)
    pipeline.build(config, jobs=1)
    before = tree(config.output_path)
    (config.output_path / "index.html").write_text("vandalised")
    (config.output_path / "tags" / "index.html").unlink()
    (config.output_path / "stray.html").write_text("not ours")
    result = pipeline.build(config, jobs=1)
    assert result.rendered == 2 and result.written == 2
    assert tree(config.output_path) == before


def mentions(value: object, story_id: str) -> bool:
    """True if ``value`` (page data) holds the story anywhere, however deep."""
    if isinstance(value, Story):
        return value.id == story_id
    if dataclasses.is_dataclass(value):
        return any(mentions(getattr(value, f.name), story_id) for f in dataclasses.fields(value))
    if isinstance(value, Mapping):
        return any(mentions(v, story_id) for v in value.values())
    if isinstance(value, tuple | list):
        return any(mentions(v, story_id) for v in value)
    return False


def test_an_edit_renders_exactly_the_pages_that_show_the_story(tmp_path, monkeypatch):
    config = make_project(tmp_path, 30)
    pipeline.build(config, jobs=1)
    path = stories_in(config)[7]
    write(path, path.read_text().replace("A second paragraph.", "A corrected paragraph."))
    rendered: list[str] = []
    real_render = pipeline._render
    monkeypatch.setattr(pipeline, "_render", lambda pages, *rest: rendered.extend(
        p.output for p in pages) or real_render(pages, *rest))
    result = pipeline.build(config, jobs=1)

    with Cache.open(config.cache_path) as cache:
        results = pipeline._read(config, discover.sources(config, cache), cache,
                                 pipeline._workers(1), None).results
    stories = [story for result in results for story in result.stories]
    edited = next(s for s in stories if s.path == path.relative_to(config.content_path).as_posix())
    site = assemble(stories, config)
    showing = {p.output for p in site.pages if mentions(p, edited.id)}
    story_page = next(p.output for p in site.pages if p.template == "story.html"
                      and p.data["entry"].story.id == edited.id)
    assert story_page in showing
    assert set(rendered) == showing
    assert result.parsed == 1 and result.rendered == len(showing) < result.pages / 3
    assert result.written <= result.rendered


def test_one_process_and_two_build_the_same_site(tmp_path):
    config = make_project(tmp_path, 30)
    pipeline.build(config.replace(output_dir="one", cache_dir=".cache-one"), jobs=1)
    pipeline.build(config.replace(output_dir="two", cache_dir=".cache-two"), jobs=2)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    # And an incremental rebuild in two processes matches a fresh one in one.
    write(stories_in(config)[3], story_text(3, version=9, tags=("OPEC",)))
    pipeline.build(config.replace(output_dir="two", cache_dir=".cache-two"), jobs=2)
    assert tree(tmp_path / "two") == fresh_site(config, "one-process")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_first_build_records_the_fingerprints_the_renderers_made(tmp_path, jobs):
    """A first build's pages are fingerprinted by the processes that render them: the
    record holds what fingerprinting the site in this process gives."""
    config = make_project(tmp_path, 30)
    first = pipeline.build(config, jobs=jobs)
    with Cache.open(config.cache_path) as cache:
        recorded = cache.last_build(config.output_path).files
        reading = pipeline._read(config, discover.sources(config, cache), cache,
                                 pipeline._workers(1), None)
    site = assemble([s for result in reading.results for s in result.stories], config)
    context = pipeline.Fingerprinter(b"").of((pipeline._context(config, None), site.nav))
    expected = pipeline._fingerprints(site, pipeline.Fingerprinter(context), None)
    assert first.rendered == len(site.pages) == len(expected)
    assert [recorded[page.output].fingerprint for page in site.pages] == expected
    # So one edit re-renders just what it would after any build.
    path = stories_in(config)[4]
    write(path, path.read_text().replace("A second paragraph.", "A corrected paragraph."))
    assert 0 < pipeline.build(config, jobs=jobs).rendered < len(site.pages) / 3


def test_a_warm_cache_object_serves_many_builds(tmp_path):
    config = make_project(tmp_path, 10)
    with Cache.open(config.cache_path, long_lived=True) as cache:
        pipeline.build(config, jobs=1, cache=cache)
        path = stories_in(config)[2]
        write(path, story_text(2, version=5, tags=("OPEC",)))
        result = pipeline.build(config, jobs=1, cache=cache)
    assert result.parsed == 1 and 0 < result.rendered < result.pages
    assert tree(config.output_path) == fresh_site(config, "warm")


@pytest.mark.parametrize("changes", [
    [("reword", 2, 0), ("reword", 5, 0), ("reword", 2, 0)],  # the site patched each time
    [("reword", 1, 0), ("delete", 4, 0), ("static", 0, 0), ("template", 0, 2),
     ("reword", 3, 0)],  # ... and a template edit that changes every fingerprint, no byte
])
def test_the_record_a_warm_build_amends_is_the_one_a_full_build_would_leave(
        tmp_path, monkeypatch, changes):
    """The preview's builds amend the record of their output by what they changed: a build
    in a new process then finds every page as recorded, and renders nothing."""
    # In place whatever share of the site changes, as the preview of a big archive is.
    monkeypatch.setattr(pipeline, "_IN_PLACE_SHARE", 1.0)
    amended: list[int] = []
    record_changes = Cache.record_changes
    def recorded_changes(self: Cache, *args: object) -> bool:
        done = record_changes(self, *args)
        assert done, "the record was written in full, not amended"
        amended.append(len(args[3]))
        return done
    monkeypatch.setattr(Cache, "record_changes", recorded_changes)
    config = make_project(tmp_path, 12)
    builds = pipeline.WarmBuilds()
    try:
        builds(config, jobs=1)
        for step, change in enumerate(changes):
            apply(change, config, step)
            builds(config, jobs=1)
            # The record it keeps in memory for the next build is the stored one.
            with Cache.open(config.cache_path) as cache:
                assert cache.last_build(config.output_path) == \
                    builds._cache.last_build(config.output_path)
    finally:
        builds.close()
    with Cache.open(config.cache_path) as cache:  # another connection: what is stored
        recorded = cache.last_build(config.output_path).files
    assert set(recorded) == set(tree(config.output_path))
    assert len(amended) == len(changes) and min(amended) < len(recorded) / 3
    again = pipeline.build(config, jobs=1)  # a full build, from the stored record
    assert (again.rendered, again.written) == (0, 0)
    # Its fingerprints are right too: one more edit re-renders what it does for a project
    # only ever built in full.
    twin = config.replace(root=tmp_path / "twin")
    for folder in ("content", "static"):
        if (tmp_path / folder).exists():
            shutil.copytree(tmp_path / folder, twin.root / folder)
    pipeline.build(twin, jobs=1)
    for project in (config, twin):
        apply(("reword", 7, 0), project, len(changes))
    assert pipeline.build(config, jobs=1).rendered == pipeline.build(twin, jobs=1).rendered
    assert tree(config.output_path) == tree(twin.output_path)


def test_an_unchanged_archive_is_recognised_by_file_identity_without_reading_it(
        tmp_path, monkeypatch):
    from builder import cache as cache_module
    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0)  # trust files written a moment ago
    config = make_project(tmp_path, 6)
    pipeline.build(config, jobs=1)
    read = []
    original = Path.read_bytes

    def spy(path: Path) -> bytes:
        read.append(path)
        return original(path)
    monkeypatch.setattr(Path, "read_bytes", spy)
    result = pipeline.build(config, jobs=1)
    assert result.written == 0
    assert not [path for path in read if config.content_path in path.parents]


def test_a_rewrite_keeping_size_and_modification_time_is_still_seen(tmp_path, monkeypatch):
    """Tools that restore modification times (rsync -t, archive extraction) cannot hide an
    edit: the change time and inode are part of a file's identity too."""
    import os
    import time
    from builder import cache as cache_module
    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0)
    config = make_project(tmp_path, 6)
    path = next(config.content_path.rglob("*.md"))
    pipeline.build(config, jobs=1)
    before = os.stat(path)
    time.sleep(0.05)
    text = path.read_text(encoding="utf-8")
    changed = text.replace("Body of story", "Body of STORY")
    assert len(changed) == len(text) and changed != text
    with open(path, "r+", encoding="utf-8") as stream:  # in place: the inode stays
        stream.write(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns and os.stat(path).st_ino == before.st_ino
    pipeline.build(config, jobs=1)
    assert tree(config.output_path) == fresh_site(config, "rewritten")
    assert any(b"Body of STORY" in data for data in tree(config.output_path).values())


def test_a_file_changed_just_before_it_was_read_is_read_again(tmp_path):
    """A file modified within RACY_SECONDS of being read could change again within the same
    timestamp tick, so its identity is not trusted next time."""
    config = make_project(tmp_path, 3)
    with Cache.open(config.cache_path) as cache:
        sources = discover.sources(config, cache)
        assert all(source.data is not None for source in sources)
        again = discover.sources(config, cache)  # the files were all written just now
        assert all(source.data is not None for source in again)
        assert [s.key for s in again] == [s.key for s in sources]


# -- the model a build keeps for the next process ------------------------------------------

def model_file(config: SiteConfig) -> Path:
    with Cache.open(config.cache_path) as cache:
        return Path(cache._model_path(config.output_path))


def kept_when(config: SiteConfig) -> tuple[int, int]:
    """Which model file is kept: each is written anew and renamed into place."""
    info = model_file(config).stat()
    return info.st_ino, info.st_mtime_ns


def resumed_from(monkeypatch) -> list[bool]:
    """For each build from here on that looked for a kept model: whether it found one."""
    found: list[bool] = []
    kept_model = pipeline._kept_model

    def spied(store: Cache, site_dir: Path):
        model = kept_model(store, site_dir)
        found.append(model is not None)
        return model

    monkeypatch.setattr(pipeline, "_kept_model", spied)
    return found


def reword(path: Path, step: int) -> None:
    body, _, _ = path.read_text(encoding="utf-8").rpartition("\n\n")
    write(path, f"{body}\n\nA second paragraph, reworded {step}.\n")


def test_a_build_resumes_from_the_model_the_last_whole_build_kept(tmp_path, monkeypatch):
    config = make_project(tmp_path, 30)
    found = resumed_from(monkeypatch)
    pipeline.build(config, jobs=1)
    assert not model_file(config).exists()  # a first build keeps none: the next does
    assert found == []
    reword(stories_in(config)[1], 1)
    pipeline.build(config, jobs=1)
    assert found == [False] and model_file(config).exists()
    kept = kept_when(config)
    for step, index in enumerate((2, 7, 2, 11), start=2):  # a text edit each: patched
        reword(stories_in(config)[index], step)
        result = pipeline.build(config, jobs=1)
        assert tree(config.output_path) == fresh_site(config, str(step))
        assert 0 < result.rendered < result.pages / 3
    assert found == [False, True, True, True, True]
    assert kept_when(config) == kept  # each started from the one kept
    pipeline.build(config, jobs=1)  # nothing changed: no model looked for
    assert len(found) == 5
    write(stories_in(config)[3], story_text(3, version=9, tags=("OPEC",)))  # a new tag
    pipeline.build(config, jobs=1)
    assert found[-1] and kept_when(config) != kept  # assembled whole
    assert tree(config.output_path) == fresh_site(config, "retagged")


def test_a_template_edit_keeps_a_model_fingerprinted_under_the_new_templates(tmp_path):
    config = make_project(tmp_path, 12)
    pipeline.build(config, jobs=1)
    reword(stories_in(config)[1], 1)
    pipeline.build(config, jobs=1)
    kept = kept_when(config)
    apply(("template", 0, 0), config, 2)  # every page's fingerprint changes
    pipeline.build(config, jobs=1)
    assert kept_when(config) != kept
    kept = kept_when(config)
    reword(stories_in(config)[2], 3)
    pipeline.build(config, jobs=1)
    assert kept_when(config) == kept
    assert tree(config.output_path) == fresh_site(config, "templates")


def test_a_model_kept_by_other_code_or_damaged_is_not_used(tmp_path, monkeypatch):
    config = make_project(tmp_path, 12)
    pipeline.build(config, jobs=1)
    reword(stories_in(config)[1], 1)
    pipeline.build(config, jobs=1)
    found = resumed_from(monkeypatch)
    model = model_file(config)
    model.write_bytes(model.read_bytes()[:1000])
    reword(stories_in(config)[2], 2)
    pipeline.build(config, jobs=1)
    assert tree(config.output_path) == fresh_site(config, "damaged")
    monkeypatch.setattr(pipeline, "code_identity", lambda: b"another version")
    reword(stories_in(config)[3], 3)
    pipeline.build(config, jobs=1)
    assert found == [False, False]
    assert tree(config.output_path) == fresh_site(config, "other-code")


def test_builds_in_new_processes_resume_and_equal_a_fresh_build(tmp_path):
    config = make_project(tmp_path, 20)
    (tmp_path / "gazette.toml").write_text(
        'base_url = "https://example.org/news/"\nper_page = 3\nsearch = false\n')
    build = [sys.executable, "-m", "builder", "--root", str(tmp_path), "build", "--jobs", "1"]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    kept = None
    for step, index in enumerate((0, 1, 5, 1, 9)):
        if step:
            reword(stories_in(config)[index], step)
        subprocess.run(build, check=True, env=environment, capture_output=True)
        if step:
            kept = kept or kept_when(config)  # kept by the first edit, then resumed from
            assert kept_when(config) == kept
    assert tree(config.output_path) == fresh_site(config, "processes")


def test_edits_take_the_reserve_up_from_its_record(tmp_path, monkeypatch):
    if not clock_is_fine(tmp_path):
        pytest.skip("this file system's clock is too coarse for a write to record settled folders")
    config = make_project(tmp_path, 20)
    pipeline.build(config, jobs=1)
    walked: list[str] = []
    sweep = output._sweep
    monkeypatch.setattr(output, "_sweep", lambda root: walked.append(root) or sweep(root))
    for step, index in enumerate((1, 4, 1, 9, 13), start=1):
        reword(stories_in(config)[index], step)
        pipeline.build(config, jobs=1)
        assert tree(config.output_path) == fresh_site(config, str(step))
    # The first edit has no reserve, the second a reserve the first edit's build found and
    # recorded as the first build had left it: none is walked.
    assert walked == []
    assert output.reserve_path(config.output_path).is_dir()
    (output.reserve_path(config.output_path) / "stray.html").write_text("stray")
    reword(stories_in(config)[2], 9)
    pipeline.build(config, jobs=1)
    assert len(walked) == 1
    assert tree(config.output_path) == fresh_site(config, "stray")


def test_builds_of_two_output_folders_keep_a_model_each(tmp_path, monkeypatch):
    config = make_project(tmp_path, 12)
    preview = config.replace(output_dir="preview-site")
    for built in (config, preview):
        pipeline.build(built, jobs=1)
    reword(stories_in(config)[1], 1)
    for built in (config, preview):
        pipeline.build(built, jobs=1)
    kept = kept_when(config), kept_when(preview)
    found = resumed_from(monkeypatch)
    for step in range(2, 5):
        reword(stories_in(config)[step], step)
        for built in (config, preview):
            pipeline.build(built, jobs=1)
    assert found == [True] * 6
    assert (kept_when(config), kept_when(preview)) == kept


def test_two_files_claiming_one_id_keep_no_model(tmp_path):
    config = make_project(tmp_path, 8)
    first = stories_in(config)[0]
    write(first.with_name("zz_" + first.name), first.read_text().replace("Body", "Other"))
    pipeline.build(config, jobs=1)
    reword(stories_in(config)[3], 1)
    pipeline.build(config, jobs=1)
    assert not model_file(config).exists()  # it could not be read by difference
    assert tree(config.output_path) == fresh_site(config, "claimed")


def test_a_preview_build_s_carried_state_pickles_with_the_sanitiser_s_findings_refiled(tmp_path):
    config = make_project(tmp_path, 6)
    marked = stories_in(config)[2]
    write(marked, marked.read_text().replace("A second paragraph.",
                                             "A <b>second</b> paragraph.<script>x()</script>"))
    builds = pipeline.WarmBuilds()
    try:
        builds(config, jobs=1)
        carried = builds._carried
    finally:
        builds.close()
    assert carried.removed_html
    again = pickle.loads(pickle.dumps(carried))
    assert [removed for _, removed in again.removed_html.values()] == \
        [removed for _, removed in carried.removed_html.values()]
    shown = {id(entry.story): entry.story for entry in again.site.entries}
    assert all(shown.get(key) is story for key, (story, _) in again.removed_html.items())


def test_an_empty_folder_made_in_the_site_does_not_hide_a_file_put_there_later(tmp_path):
    config = make_project(tmp_path, 8)
    pipeline.build(config, jobs=1)
    (config.output_path / "x").mkdir()
    assert pipeline.build(config, jobs=1).rendered == 0  # nothing published changed
    (config.output_path / "x" / "stray.html").write_text("stray")
    pipeline.build(config, jobs=1)
    assert tree(config.output_path) == fresh_site(config, "stray")
    assert not (config.output_path / "x").exists()
