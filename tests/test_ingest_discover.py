"""Which files under content/ are stories."""

from __future__ import annotations

from builder.config import SiteConfig
from builder.ingest import discover


def test_discover_skips_dotfiles_underscores_and_ignored_names(tmp_path):
    content = tmp_path / "content"
    for name in ["b/2.txt", "a/1.md", "a/_draft.txt", ".hidden/x.txt", "a/.swp", "README.md",
                 "LICENSE", "a/1.md.orig", "a/old.raw", "_private/y.txt", "z.txt"]:
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    config = SiteConfig(root=tmp_path)
    found = [p.relative_to(content).as_posix() for p in discover([content], config)]
    assert found == ["a/1.md", "b/2.txt", "z.txt"]


def test_discover_takes_named_files_and_extra_ignore_globs(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    (content / "keep.txt").write_text("x")
    (content / "notes.tmp").write_text("x")
    named = content / "_explicit.txt"
    named.write_text("x")
    config = SiteConfig(root=tmp_path, ignore=("*.tmp",))
    assert discover([content, named], config) == [content / "_explicit.txt", content / "keep.txt"]
    assert discover([tmp_path / "missing"], config) == []


def test_public_api_is_explicit():
    import builder.ingest as ingest

    assert sorted(ingest.__all__) == ["FileResult", "discover", "parse_bytes", "read_file",
                                      "story_slug"]
    assert all(hasattr(ingest, name) for name in ingest.__all__)
