"""Which files under content/ are stories, and what discovering them costs to load."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from builder.cache import Cache
from builder.config import SiteConfig
from builder.discover import sources, sources_after, story_files


def test_story_files_skips_dotfiles_underscores_and_ignored_names(tmp_path):
    content = tmp_path / "content"
    for name in ["b/2.txt", "a/1.md", "a/_draft.txt", ".hidden/x.txt", "a/.swp", "README.md",
                 "LICENSE", "a/1.md.orig", "a/old.raw", "_private/y.txt", "z.txt"]:
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    config = SiteConfig(root=tmp_path)
    found = [name[len(str(content)) + 1:] for name in story_files([content], config)]
    assert found == ["a/1.md", "b/2.txt", "z.txt"]


def test_story_files_takes_named_files_once_and_extra_ignore_globs(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    (content / "keep.txt").write_text("x")
    (content / "notes.tmp").write_text("x")
    named = content / "_explicit.txt"
    named.write_text("x")
    config = SiteConfig(root=tmp_path, ignore=("*.tmp",))
    # A file named twice, or named and found by the walk, is one file.
    twice = f"{content}/./_explicit.txt"
    assert story_files([content, named, twice, f"{content}//keep.txt"], config) == [
        str(content / "_explicit.txt"), str(content / "keep.txt")]
    assert story_files([tmp_path / "missing"], config) == []


def test_public_api_is_explicit():
    import builder.ingest as ingest

    assert sorted(ingest.__all__) == ["FileResult", "parse_bytes", "read_file", "story_slug"]
    assert all(hasattr(ingest, name) for name in ingest.__all__)


def test_a_build_that_finds_nothing_changed_loads_no_parser_or_template_engine(tmp_path):
    # The no-op build must stay light: the pipeline and its first stage load neither the
    # parsers nor Jinja nor the search indexer (they cost a quarter of a second to import),
    # nor assembly, nor importlib.metadata (its imports cost 30 ms; versions are read from
    # the names of the installed distributions' folders).
    from builder import pipeline
    from builder.config import load_config

    story = tmp_path / "content" / "world" / "001_0000000000000001.md"
    story.parent.mkdir(parents=True)
    story.write_text("---\ntitle: One\ndate: 2021-01-14\n---\nA story.\n", encoding="utf-8")
    (tmp_path / "gazette.toml").write_text("search = false\n", encoding="utf-8")
    pipeline.build(load_config(tmp_path), jobs=1)
    run = subprocess.run(  # a no-op `gazette build`, then the modules it loaded
        [sys.executable, "-c",
         "import sys; from builder import cli; "
         f"code = cli.main(['--root', {str(tmp_path)!r}, 'build']); "
         "print('MODULES', code, *sorted(sys.modules))"],
        check=True, capture_output=True, text=True)
    code, *loaded = run.stdout.split("MODULES ", 1)[1].split()
    assert code == "0" and "(0 rendered, 0 written)" in run.stdout + run.stderr
    assert "builder.pipeline" in loaded
    heavy = {"builder.ingest", "builder.render", "builder.search", "jinja2", "markdown",
             "yaml", "pygments", "builder.assemble", "builder.similarity", "importlib.metadata"}
    assert heavy.isdisjoint(loaded), sorted(heavy & set(loaded))


# -- discovery told what changed (the preview server's watcher) -------------------------------

FILES = ("a/1.md", "a/2.txt", "b/3.md", "b/c/4.txt", "z.txt", "a/_draft.md", ".hidden/5.md",
         "README.md", "b/README.txt", "a/1.md.orig", "_kept/6.md", "b/c")
"""Names a change may touch: stories, and files and folders a walk skips or ignores."""

FILE_CHANGES = st.tuples(st.sampled_from(["write", "delete", "move"]),
                         st.sampled_from(FILES), st.sampled_from(FILES))
FOLDER_CHANGES = st.tuples(st.sampled_from(["add folder", "remove folder", "move folder"]),
                           st.sampled_from(["a", "b/c", "d", "_kept", ".hidden"]),
                           st.sampled_from(["e", "b/f", "_g"]))


def _change(content, change) -> set[str]:
    """Apply one change; the paths a watcher reports for it (files and folders alike),
    marked with a trailing '/' when a folder came or went."""
    kind, name, other = change
    path, target = content / name, content / other
    if kind == "move" and path.is_dir():
        kind = "move folder"
    if kind == "write" and not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\ntitle: {name}\n---\nText {len(path.parent.name)}.\n")
    elif kind == "delete" and path.is_file():
        path.unlink()
    elif kind in ("move", "move folder") and path.exists() and not target.exists() \
            and not target.is_relative_to(path):
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
        mark = "/" if kind == "move folder" else ""
        return {str(path) + mark, str(target) + mark}
    elif kind == "add folder" and not path.exists():
        (path / "new").mkdir(parents=True)
        (path / "new" / "7.md").write_text("---\ntitle: Seven\n---\nSeven.\n")
        return {str(path) + "/"}
    elif kind == "remove folder" and path.is_dir():
        shutil.rmtree(path)
        return {str(path) + "/"}
    else:
        return set()
    return {str(path)}


def _keys(found) -> list[tuple[str, str, str, bool]]:
    return [(s.path, s.relpath, s.key, s.readable) for s in found]


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.lists(st.one_of(FILE_CHANGES, FOLDER_CHANGES), min_size=1,
                               max_size=4), min_size=1, max_size=4))
def test_discovery_told_what_changed_finds_what_a_walk_finds(steps):
    """From the last discovery and the paths a watcher reports, the same story files and
    keys as a walk of the whole folder; or, for a folder that came or went, None (and then
    the walk). Changes of files alone are always followed."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = SiteConfig(root=root)
        for name in FILES[:5]:
            _change(config.content_path, ("write", name, name))
        with Cache.open(root / ".cache") as store:
            found = sources(config, store)
            for changes in steps:
                changed = set().union(*(_change(config.content_path, c) for c in changes))
                told = sources_after(found, {path.rstrip("/") for path in changed},
                                     config, store)
                found = sources(config, store)
                if told is not None:
                    assert _keys(told) == _keys(found), changes
                else:  # a folder that a walk would enter came or went
                    assert any(path.endswith("/") for path in changed), changes


def test_discovery_told_of_nothing_outside_content_changes_nothing(tmp_path):
    config = SiteConfig(root=tmp_path)
    story = config.content_path / "world" / "1.md"
    story.parent.mkdir(parents=True)
    story.write_text("---\ntitle: One\n---\nOne.\n")
    with Cache.open(tmp_path / ".cache") as store:
        found = sources(config, store)
        (tmp_path / "templates").mkdir()
        assert sources_after(found, {str(tmp_path / "templates"), str(tmp_path / "gazette.toml")},
                             config, store) == found
        # content/ itself, or a folder above it, came or went: only a walk can tell.
        assert sources_after(found, {str(config.content_path)}, config, store) is None
        assert sources_after(found, {str(tmp_path)}, config, store) is None
