"""Writes that know the trees they start from: ``write_site(recorded=, reserve=)``.

A build that has just found the output exactly as its record says hands that record to the
write (the kept files' identities come from it), and the record the last write left of the
reserve: when every folder of the reserve is still as recorded, the reserve is known without
walking it. Each write returns the records of the output and of the reserve it left. These
tests chain writes as the pipeline does and check each site is exact, that the records are
true, and that any change to the reserve since it was recorded makes the write walk it.
"""

from __future__ import annotations

import os
import pickle
import stat
import time
from pathlib import Path

import pytest

from builder import output
from test_output_reserve import KEPT_3, SITE_1, SITE_2, SITE_3, _remove, contents, publish


def clock_is_fine(folder: Path) -> bool:
    """Whether the file system stamps times finer than a write's few 4 ms looks again at the
    folders it changed (Linux's ext4 and tmpfs do; FAT, some network and FUSE file systems
    stamp in seconds)."""
    first, second = folder / ".tick-1", folder / ".tick-2"
    first.write_bytes(b"")
    time.sleep(0.006)
    second.write_bytes(b"")
    fine = first.stat().st_mtime_ns != second.stat().st_mtime_ns
    first.unlink()
    second.unlink()
    return fine


@pytest.fixture(autouse=True)
def settled_folders(tmp_path, monkeypatch):
    """On a file system whose clock is coarse, every folder a write changes is recorded
    unsettled, never matching, and no record could be taken up: there the clock is taken to
    be far ahead (these writes each take less than one of its ticks)."""
    if not clock_is_fine(tmp_path):
        monkeypatch.setattr(output, "_clock_now", lambda _output: 2**62)


class Chain:
    """Writes one after another, each handed the records the last one returned, as the
    pipeline hands them on through the cache."""

    def __init__(self, out: Path):
        self.out = out
        self.tree = b""
        self.reserve = b""

    def publish(self, site: dict[str, bytes], kept: tuple[str, ...] = (), **options
                ) -> output.WriteResult:
        recorded = self.tree if output.unchanged_files(self.out, self.tree) is not None \
            else b""
        result = publish(self.out, site, kept, recorded=recorded, reserve=self.reserve,
                         **options)
        assert_true_record(self.out, result.tree)
        if result.reserve:
            assert_true_record(output.reserve_path(self.out), result.reserve)
        self.tree, self.reserve = result.tree, result.reserve
        return result


def assert_true_record(root: Path, record: bytes) -> None:
    """``record`` names exactly the files and folders under ``root``, each with its
    identity as it now is."""
    names, folders, paths, files, listed = pickle.loads(record)
    assert listed is True
    assert output.unchanged_files(root, record) == output.snapshot(root)
    assert sorted(paths) == sorted(output.snapshot(root))
    assert folders == [(os.lstat(root / name).st_mtime_ns, os.lstat(root / name).st_ino)
                       for name in names]
    on_disk = {Path(folder).relative_to(root).as_posix() for folder, _, _ in os.walk(root)}
    assert set(names) == on_disk - {"."} | {""}


def sweeps(monkeypatch) -> list[str]:
    """The reserves walked from here on."""
    walked: list[str] = []
    sweep = output._sweep

    def counted(root: str):
        walked.append(root)
        return sweep(root)

    monkeypatch.setattr(output, "_sweep", counted)
    return walked


def test_a_recorded_reserve_is_taken_up_unwalked_and_every_site_is_exact(tmp_path, monkeypatch):
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    second = chain.publish(SITE_2, kept=("a/index.html",))
    assert second.reserve, "the old site became the reserve, recorded"
    walked = sweeps(monkeypatch)
    third = chain.publish(SITE_3, kept=KEPT_3)
    assert walked == []
    assert contents(output.reserve_path(out)) == SITE_2
    for relative in (*KEPT_3, "same-as-live.html"):  # the very files published before
        assert (out / relative).stat().st_ino == \
            (output.reserve_path(out) / relative).stat().st_ino, relative
    assert (third.written, third.linked) == (6, 4)  # as when the reserve is walked
    chain.publish(SITE_1, kept=("a/index.html",))
    chain.publish(SITE_2, kept=("a/index.html",))
    assert walked == []


def test_counts_match_writes_that_walk(tmp_path, monkeypatch):
    recorded, walked = Chain(tmp_path / "recorded" / "site"), tmp_path / "walked" / "site"
    sweeps_made = sweeps(monkeypatch)
    for site, kept in ((SITE_1, ()), (SITE_2, ("a/index.html",)), (SITE_3, KEPT_3),
                       (SITE_2, ("a/index.html", "new/index.html")), (SITE_1, ()),
                       (SITE_3, ("a/index.html",))):
        assert recorded.publish(site, kept) == publish(walked, site, kept)
    # The walked output's reserve from its third write on; the recorded one's never.
    assert [root for root in sweeps_made if "/recorded/" in root] == []
    assert len([root for root in sweeps_made if "/walked/" in root]) == 4


def _tamper_by_adding(reserve: Path) -> None:
    (reserve / "b" / "stray.html").write_bytes(b"stray")


def _tamper_by_removing(reserve: Path) -> None:
    (reserve / "a" / "index.html").unlink()


def _tamper_by_replacing(reserve: Path) -> None:
    (reserve / "c" / "index.html").unlink()
    (reserve / "c" / "index.html").write_bytes(b"story c")  # the same bytes, a new file


def _tamper_by_a_symlink(reserve: Path) -> None:
    (reserve / "feed.xml").unlink()
    (reserve / "feed.xml").symlink_to(reserve / "index.html")


def _tamper_by_a_new_folder(reserve: Path) -> None:
    (reserve / "deep" / "er" / "new").mkdir()


def _tamper_by_renaming(reserve: Path) -> None:
    os.rename(reserve / "becomes-file", reserve / "renamed")


@pytest.mark.parametrize("tamper", [
    _tamper_by_adding, _tamper_by_removing, _tamper_by_replacing, _tamper_by_a_symlink,
    _tamper_by_a_new_folder, _tamper_by_renaming])
def test_a_reserve_changed_since_it_was_recorded_is_walked(tmp_path, monkeypatch, tamper):
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    chain.publish(SITE_2, kept=("a/index.html",))
    tamper(output.reserve_path(out))
    walked = sweeps(monkeypatch)
    chain.publish(SITE_3, kept=KEPT_3)
    assert len(walked) == 1
    assert contents(output.reserve_path(out)) == SITE_2


def test_a_file_written_in_place_in_the_reserve_is_noticed_by_its_bytes(tmp_path, monkeypatch):
    """Writing a file in place changes no folder: the record is taken up, and the file's
    bytes are compared before it is kept (its recorded size is stale)."""
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    chain.publish(SITE_2, kept=("a/index.html",))
    reserve = output.reserve_path(out)
    assert (reserve / "b" / "index.html").stat().st_nlink == 1  # SITE_1's own copy
    (reserve / "b" / "index.html").write_bytes(b"story b, longer")
    walked = sweeps(monkeypatch)
    chain.publish(SITE_3, kept=KEPT_3)  # wants b's bytes as SITE_1 had them
    assert walked == []


def test_a_record_of_another_tree_is_not_taken_up(tmp_path, monkeypatch):
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    chain.publish(SITE_2, kept=("a/index.html",))
    chain.reserve = chain.tree  # the live site's record, handed on as the reserve's
    walked = sweeps(monkeypatch)
    chain.publish(SITE_3, kept=KEPT_3)
    assert len(walked) == 1


def test_a_damaged_record_is_not_taken_up(tmp_path, monkeypatch):
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    chain.publish(SITE_2, kept=("a/index.html",))
    chain.reserve = chain.reserve[:-10]
    walked = sweeps(monkeypatch)
    chain.publish(SITE_3, kept=KEPT_3)
    assert len(walked) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_a_reserve_folder_made_read_only_is_walked_then_given_up(tmp_path, monkeypatch):
    """Making a folder read-only changes no modification time: the record is declined by
    the folders' modes, and the walk finds the folder it may not change."""
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    chain.publish(SITE_2, kept=("a/index.html",))
    folder = output.reserve_path(out) / "b"
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        walked = sweeps(monkeypatch)
        chain.publish(SITE_3, kept=KEPT_3, stagings=2)
        assert len(walked) == 1
    finally:
        if folder.exists():
            folder.chmod(0o755)


def test_a_deleted_reserve_and_a_search_index_leave_true_records(tmp_path, monkeypatch):
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    chain.publish(SITE_2, kept=("a/index.html",))
    _remove(output.reserve_path(out))
    chain.publish(SITE_3, kept=KEPT_3)

    def index(staging: Path) -> None:
        (staging / "pagefind").mkdir(exist_ok=True)
        (staging / "pagefind" / "index.js").write_bytes(b"js")

    result = output.write_site(sorted(SITE_1.items()), out, before_swap=index,
                               recorded=chain.tree, reserve=chain.reserve)
    assert_true_record(out, result.tree)  # the index's files are in it
    assert_true_record(output.reserve_path(out), result.reserve)
    assert contents(out) == {**SITE_1, "pagefind/index.js": b"js"}

    def index_leaving_a_folder_empty(staging: Path) -> None:
        index(staging)
        (staging / "pagefind" / "fragments").mkdir(exist_ok=True)

    chain.tree, chain.reserve = result.tree, result.reserve
    result = output.write_site(sorted(SITE_2.items()), out,
                               before_swap=index_leaving_a_folder_empty,
                               recorded=chain.tree, reserve=chain.reserve)
    assert output.unchanged_files(out, result.tree) == output.snapshot(out)
    assert pickle.loads(result.tree)[4] is False  # no listing: it misses the empty folder
    chain.tree, chain.reserve = result.tree, result.reserve
    chain.publish(SITE_3, kept=("a/index.html",))  # so its reserve goes unrecorded,
    walked = sweeps(monkeypatch)
    chain.publish(SITE_1, kept=("a/index.html",))  # and is walked
    assert len(walked) == 1


def test_an_unchanged_site_is_not_swapped_and_its_record_is_true(tmp_path):
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    chain.publish(SITE_2, kept=("a/index.html",))
    folder = out.stat().st_ino
    result = chain.publish(SITE_2, kept=("a/index.html", "new/index.html"))
    assert (result.written, out.stat().st_ino) == (0, folder)
    assert result.reserve == b""  # the staged links became the reserve, unrecorded
    chain.publish(SITE_3, kept=KEPT_3)


def test_a_record_made_from_a_walk_never_stands_for_the_reserve(tmp_path, monkeypatch):
    """A walk of files sees no folder without one: a record made from it could leave out
    an empty folder, and a file put there later would go unseen."""
    out = tmp_path / "site"
    chain = Chain(out)
    chain.publish(SITE_1)
    (out / "empty").mkdir()
    walked_record = output.tree_record(out, output.snapshot(out))
    assert pickle.loads(walked_record)[4] is False
    assert output.exact_record(out, output.snapshot(out)) is None  # not the whole tree
    chain.tree = walked_record
    second = chain.publish(SITE_2, kept=("a/index.html",))
    assert second.reserve == b""
    (output.reserve_path(out) / "empty" / "stray.html").write_bytes(b"stray")
    walked = sweeps(monkeypatch)
    chain.publish(SITE_3, kept=KEPT_3)  # publish() checks the site holds exactly SITE_3
    assert len(walked) == 1
    (out / "empty").mkdir()
    (out / "empty").rmdir()
    assert pickle.loads(output.exact_record(out, output.snapshot(out)))[4] is True
