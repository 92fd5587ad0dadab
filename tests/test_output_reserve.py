"""The reserve of :func:`builder.output.write_site`: the previous site kept beside the
output and brought up to date as the next staging tree (double buffering).

Real files in ``tmp_path``; every build must leave the output exactly as asked, whatever
state the reserve is in, and never change a file of the live site through a hard link.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from builder import output
from builder.errors import BuildError


def contents(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes; fails on anything but regular files and
    the folders leading to them (a symlink, an empty folder)."""
    found: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        for name in dirs:
            assert not (here / name).is_symlink(), f"a symlink: {here / name}"
        assert names or dirs or here == root, f"an empty folder: {here}"
        for name in names:
            path = here / name
            assert stat.S_ISREG(path.lstat().st_mode), f"not a regular file: {path}"
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def staging_dirs(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".site.") and p.is_dir())


def publish(out: Path, site: dict[str, bytes], kept: tuple[str, ...] = (), *,
            stagings: int = 1, **options) -> output.WriteResult:
    """Write ``site`` (its ``kept`` files are named, not given: they must already be in
    ``out`` with these bytes) and check the result is exactly ``site``, made in
    ``stagings`` staging folders (1: the reserve, if any, was brought up to date rather
    than given up for a fresh start)."""
    files = [(relative, data) for relative, data in sorted(site.items()) if relative not in kept]
    made = []
    new_staging = output._new_staging

    def counted(where: Path) -> Path:
        made.append(where)
        return new_staging(where)

    output._new_staging = counted
    try:
        result = output.write_site(files, out, kept=kept, **options)
    finally:
        output._new_staging = new_staging
    assert len(made) == stagings
    assert contents(out) == site
    assert staging_dirs(out.parent) == []
    if "before_swap" not in options:
        assert result.identities == output.snapshot(out)
    return result


SITE_1 = {
    "index.html": b"home 1",
    "a/index.html": b"story a",
    "b/index.html": b"story b",
    "c/index.html": b"story c",
    "becomes-folder": b"a file, later a folder",
    "becomes-file/x.html": b"a folder, later a file",
    "deep/er/still/page.html": b"deep",
    "feed.xml": b"feed 1",
    "same-as-live.html": b"one",
    "kept-later.html": b"k1",
}
SITE_2 = {
    "index.html": b"home 2",  # changed
    "a/index.html": b"story a",  # kept
    "b/index.html": b"story B!",  # changed
    "c/index.html": b"story c",  # given again with the same bytes
    "becomes-folder/inside.html": b"now a folder",
    "becomes-file": b"now a file",
    "new/index.html": b"new story",  # added; deep/ deleted
    "feed.xml": b"feed 2",
    "same-as-live.html": b"two",
    "kept-later.html": b"k2",
}
SITE_3 = {
    "index.html": b"home 3",
    "a/index.html": b"story a",  # kept again
    "b/index.html": b"story b",  # back to the bytes the reserve holds
    "becomes-folder": b"a file again",
    "becomes-file/y.html": b"a folder again",
    "new/index.html": b"new story",  # kept
    "deep/er/still/page.html": b"deep again",
    "feed.xml": b"feed 1",  # the reserve's bytes (site 1's), not the live site's
    "same-as-live.html": b"two",  # given, the live site's bytes: linked from it
    "kept-later.html": b"k2",  # kept, but the reserve's copy is another file (k1)
}
KEPT_3 = ("a/index.html", "new/index.html", "kept-later.html")


def test_three_builds_each_exact_and_the_reserve_holds_the_previous_site(tmp_path):
    out = tmp_path / "site"
    reserve = output.reserve_path(out)
    assert reserve == tmp_path / ".site-reserve"

    first = publish(out, SITE_1)
    assert first == output.WriteResult(written=len(SITE_1), linked=0)
    assert not reserve.exists()  # a first build has no previous site to keep

    second = publish(out, SITE_2, kept=("a/index.html",))
    assert second == output.WriteResult(written=8, linked=2)  # a kept, c's bytes unchanged
    assert contents(reserve) == SITE_1
    assert (out / "a/index.html").stat().st_ino == (reserve / "a/index.html").stat().st_ino
    assert (out / "c/index.html").stat().st_ino == (reserve / "c/index.html").stat().st_ino

    third = publish(out, SITE_3, kept=KEPT_3)
    assert third == output.WriteResult(written=6, linked=4)
    assert contents(reserve) == SITE_2
    # Unchanged since the live site: still the very file published before.
    for relative in (*KEPT_3, "same-as-live.html"):
        assert (out / relative).stat().st_ino == (reserve / relative).stat().st_ino, relative

    fourth = publish(out, SITE_1, kept=("a/index.html",))
    assert contents(reserve) == SITE_3
    assert fourth.written + fourth.linked == len(SITE_1)


def test_counts_and_identities_match_a_build_without_a_reserve(tmp_path):
    with_reserve, without = tmp_path / "with" / "site", tmp_path / "without" / "site"
    for site, kept in ((SITE_1, ()), (SITE_2, ("a/index.html",)), (SITE_3, KEPT_3),
                       (SITE_2, ("a/index.html", "new/index.html")), (SITE_1, ())):
        if output.reserve_path(without).exists():
            _remove(output.reserve_path(without))
        assert publish(with_reserve, site, kept) == publish(without, site, kept)


def _remove(tree: Path) -> None:
    for folder, dirs, names in os.walk(tree, topdown=False):
        for name in names:
            os.unlink(os.path.join(folder, name))
        for name in dirs:
            path = os.path.join(folder, name)
            os.unlink(path) if os.path.islink(path) else os.rmdir(path)
    tree.rmdir()


def test_a_tampered_reserve_still_gives_an_exact_site(tmp_path):
    out = tmp_path / "site"
    publish(out, SITE_1)
    publish(out, SITE_2, kept=("a/index.html",))
    reserve = output.reserve_path(out)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "still").mkdir()
    (outside / "still" / "page.html").write_bytes(b"deep again")  # the bytes wanted there
    (outside / "x.html").write_bytes(b"a file again")
    # SITE_3 wants b's bytes as the reserve has them (a file of its own, not the live
    # one's): edited in place, same size, it must be noticed by its bytes.
    assert (reserve / "b/index.html").stat().st_nlink == 1
    with open(reserve / "b/index.html", "r+b") as stream:
        stream.write(b"STORY")
    (reserve / "stray.html").write_bytes(b"stray")
    (reserve / "stray-folder" / "inside").mkdir(parents=True)
    (reserve / "stray-folder" / "inside" / "f.html").write_bytes(b"f")
    # A symlink where a file must go, pointing at a file with the very bytes wanted.
    (reserve / "becomes-folder").unlink()
    (reserve / "becomes-folder").symlink_to(outside / "x.html")
    # A symlink where a folder must go, to a folder outside: never followed.
    _remove(reserve / "deep" / "er")
    (reserve / "deep" / "er").symlink_to(outside, target_is_directory=True)
    # A folder where a file must go.
    (reserve / "feed.xml").unlink()
    (reserve / "feed.xml" / "sub").mkdir(parents=True)
    (reserve / "feed.xml" / "sub" / "g.html").write_bytes(b"g")
    # A file where a folder must go.
    _remove(reserve / "becomes-file")
    (reserve / "becomes-file").write_bytes(b"in the way")

    live_before = contents(out)
    publish(out, SITE_3, kept=KEPT_3,
            before_swap=lambda staging: _assert_live(out, live_before))
    assert contents(outside) == {"still/page.html": b"deep again", "x.html": b"a file again"}
    assert contents(reserve) == live_before
    publish(out, SITE_2, kept=KEPT_3)
    assert contents(reserve) == SITE_3


def _assert_live(out: Path, expected: dict[str, bytes]) -> None:
    assert contents(out) == expected, "the live site changed while the next was staged"


def test_a_socket_or_fifo_in_the_reserve_is_replaced(tmp_path):
    out = tmp_path / "site"
    publish(out, SITE_1)
    publish(out, SITE_2, kept=("a/index.html",))
    reserve = output.reserve_path(out)
    (reserve / "index.html").unlink()
    os.mkfifo(reserve / "index.html")
    os.mkfifo(reserve / "fifo")
    publish(out, SITE_3, kept=("a/index.html",))


def test_files_shared_with_the_live_site_are_never_written_through(tmp_path):
    out = tmp_path / "site"
    reserve = output.reserve_path(out)
    site = {f"p{n}/index.html": f"page {n} version 0".encode() for n in range(20)}
    site["index.html"] = b"home"
    publish(out, site)
    publish(out, {**site, "index.html": b"home!"}, kept=tuple(sorted(site.keys() - {"index.html"})))
    shared = [relative for relative in site
              if (out / relative).stat().st_ino == (reserve / relative).stat().st_ino]
    assert len(shared) == 20  # every page but the home page is one file in both trees

    def check(staging: Path) -> None:
        assert not reserve.exists()  # moved to the staging path: a kill leaves it to the sweep
        assert contents(out) == before

    for version in range(1, 4):
        before = contents(out)
        # Rewrite half the shared pages, same size and not: new files, the live ones intact.
        changed = {relative: f"page {relative} version {version}{'!' * version}".encode()
                   for relative in shared[::2]}
        new_site = {**before, **changed}
        publish(out, new_site, kept=tuple(sorted(new_site.keys() - changed.keys())),
                before_swap=check)
        assert contents(reserve) == before  # the previous live site, bytes untouched
        assert contents(out) == new_site


def test_a_failed_before_swap_keeps_the_old_site_and_drops_the_reserve(tmp_path):
    out = tmp_path / "site"
    publish(out, SITE_1)
    publish(out, SITE_2, kept=("a/index.html",))

    def broken(staging: Path) -> None:
        assert contents(staging) == SITE_3  # the reserve was brought up to date...
        raise BuildError("indexer failed")

    with pytest.raises(BuildError):
        output.write_site(sorted(SITE_3.items()), out, before_swap=broken)
    assert contents(out) == SITE_2
    assert staging_dirs(tmp_path) == []
    assert not output.reserve_path(out).exists()  # ...but half-way, so never trusted again
    publish(out, SITE_3, kept=KEPT_3)
    assert not output.reserve_path(out).exists() or contents(output.reserve_path(out)) == SITE_2
    publish(out, SITE_1)
    assert contents(output.reserve_path(out)) == SITE_3


def test_an_error_in_the_middle_of_the_files_keeps_the_old_site_and_drops_the_reserve(
        tmp_path):
    """The files come from an iterator (pages as they are rendered): one raising half-way
    leaves the previous site, no staging folder and no half-updated reserve."""
    out = tmp_path / "site"

    def site(version: int) -> dict[str, bytes]:
        return {f"p{n:04d}/index.html": f"page {n}, version {version}".encode()
                for n in range(1000)}

    publish(out, site(1))
    publish(out, site(2))
    assert contents(output.reserve_path(out)) == site(1)

    def rendering():
        for number, item in enumerate(sorted(site(3).items())):
            if number == 500:
                raise BuildError("cannot render p0500/index.html")
            yield item

    with pytest.raises(BuildError, match="p0500"):
        output.write_site(rendering(), out)
    assert contents(out) == site(2)
    assert staging_dirs(tmp_path) == []
    assert not output.reserve_path(out).exists()
    publish(out, site(3))
    assert contents(output.reserve_path(out)) == site(2)


def test_an_identical_site_with_kept_files_is_not_swapped_and_refreshes_the_reserve(tmp_path):
    out = tmp_path / "site"
    publish(out, SITE_1)
    publish(out, SITE_2, kept=("a/index.html",))
    folder = out.stat().st_ino
    result = publish(out, SITE_2, kept=("a/index.html", "new/index.html"))
    assert result == output.WriteResult(written=0, linked=len(SITE_2))
    assert out.stat().st_ino == folder  # left alone
    reserve = output.reserve_path(out)
    assert contents(reserve) == SITE_2  # now the very files of the live site
    assert all((reserve / name).stat().st_ino == (out / name).stat().st_ino for name in SITE_2)


def test_an_os_error_updating_the_reserve_starts_from_scratch(tmp_path, monkeypatch):
    """A reserve that cannot be updated (a folder made read-only, say) is dropped and the
    staging tree made anew."""
    out = tmp_path / "site"
    publish(out, SITE_1)
    publish(out, SITE_2, kept=("a/index.html",))
    sweep = output._sweep

    def failing(*args):
        monkeypatch.setattr(output, "_sweep", sweep)
        raise PermissionError(13, "Permission denied", "somewhere")

    monkeypatch.setattr(output, "_sweep", failing)
    publish(out, SITE_3, kept=KEPT_3, stagings=2)
    assert output._sweep is sweep  # the reserve was tried, then dropped
    assert contents(output.reserve_path(out)) == SITE_2


def test_deleting_the_reserve_between_builds_is_fine(tmp_path):
    out = tmp_path / "site"
    publish(out, SITE_1)
    publish(out, SITE_2, kept=("a/index.html",))
    _remove(output.reserve_path(out))
    publish(out, SITE_3, kept=KEPT_3)
    assert contents(output.reserve_path(out)) == SITE_2
    _remove(output.reserve_path(out))
    publish(out, SITE_1)


def test_a_reserve_name_taken_by_a_symlink_or_file_is_left_alone(tmp_path):
    out = tmp_path / "site"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "index.html").write_bytes(b"not ours")
    output.reserve_path(out).symlink_to(elsewhere, target_is_directory=True)
    publish(out, SITE_1)
    publish(out, SITE_2, kept=("a/index.html",))
    publish(out, SITE_3, kept=("a/index.html",))
    assert output.reserve_path(out).is_symlink()
    assert contents(elsewhere) == {"index.html": b"not ours"}


def test_the_rename_fallback_keeps_a_reserve_too(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "exchange", lambda a, b: False)
    out = tmp_path / "site"
    publish(out, SITE_1)
    publish(out, SITE_2, kept=("a/index.html",))
    assert contents(output.reserve_path(out)) == SITE_1
    publish(out, SITE_3, kept=KEPT_3)
    assert contents(output.reserve_path(out)) == SITE_2


def test_identities_after_before_swap_cover_what_it_added(tmp_path):
    out = tmp_path / "site"
    publish(out, SITE_1)

    def index(staging: Path) -> None:
        (staging / "pagefind").mkdir(exist_ok=True)
        (staging / "pagefind" / "index.js").write_bytes(b"js")

    result = output.write_site(sorted(SITE_2.items()), out, before_swap=index)
    assert result.identities == output.snapshot(out)
    assert contents(out) == {**SITE_2, "pagefind/index.js": b"js"}
    result = output.write_site(sorted(SITE_3.items()), out, before_swap=index)
    assert result.identities == output.snapshot(out)
    assert contents(out) == {**SITE_3, "pagefind/index.js": b"js"}


def test_a_no_op_build_reports_identities_too(tmp_path):
    out = tmp_path / "site"
    publish(out, SITE_1)
    result = output.write_site(sorted(SITE_1.items()), out)
    assert result == output.WriteResult(written=0, linked=len(SITE_1))
    assert result.identities == output.snapshot(out)
