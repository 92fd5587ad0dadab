"""Which files under content/ are stories, and what discovering them costs to load."""

from __future__ import annotations

import subprocess
import sys

from builder.config import SiteConfig
from builder.discover import story_files


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
