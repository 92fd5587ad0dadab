"""The quick look at an output directory (output.tree_record / unchanged_files): it must
notice every change a full walk (output.snapshot) notices, without listing any folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder import output

FILES = ["index.html", "robots.txt", "tags/a/index.html", "tags/b/index.html",
         "2020/01/02/story/index.html", "2020/01/02/other/index.html", "static/site.css"]


def write(root: Path) -> dict[str, output.FileIdentity]:
    result = output.write_site(((name, f"<p>{name}</p>".encode()) for name in FILES), root)
    return result.identities


def settle(root: Path) -> None:
    """Set every folder's modification time back an hour, as if the build were long past
    (a folder changed within a clock tick of the record is never trusted)."""
    for folder, _, _ in os.walk(root):
        info = os.stat(folder)
        os.utime(folder, ns=(info.st_atime_ns, info.st_mtime_ns - 3600 * 10**9))


def looked_at(site: Path, record: bytes) -> dict[str, output.FileIdentity] | None:
    """:func:`output.unchanged_files`, after checking the forked look agrees with it."""
    found = output.unchanged_files(site, record)
    assert output.unchanged_files_meanwhile(site, record)() == found
    return found


def test_an_untouched_site_is_unchanged_and_every_tampering_is_seen(tmp_path):
    site = tmp_path / "site"
    identities = write(site)
    settle(site)
    record = output.tree_record(site, identities)
    assert looked_at(site, record) == output.snapshot(site)

    tamperings = {
        "a stray file in a deep folder": lambda: (site / "tags/a/extra.html").write_text("x"),
        "a stray empty folder": lambda: (site / "tags/c").mkdir(),
        "a file deleted": lambda: (site / "tags/b/index.html").unlink(),
        "a file edited, same size": lambda: (site / "robots.txt").write_text(
            "<p>robots.txX</p>"),
        "a file replaced by a symlink": lambda: (
            (site / "index.html").unlink(), (site / "index.html").symlink_to("robots.txt")),
        "a folder renamed": lambda: (site / "2020/01/02/other").rename(site / "2020/01/02/o2"),
        "the site gone": lambda: os.rename(site, tmp_path / "elsewhere"),
    }
    for what, tamper in tamperings.items():
        output.write_site(((name, f"<p>{name}</p>".encode()) for name in FILES), site)
        identities = output.snapshot(site)
        settle(site)
        record = output.tree_record(site, identities)
        assert looked_at(site, record) == output.snapshot(site), what
        tamper()
        assert looked_at(site, record) is None, what
        if (tmp_path / "elsewhere").exists():
            os.rename(tmp_path / "elsewhere", site)


def test_a_folder_changed_in_the_tick_of_the_record_is_never_trusted(tmp_path):
    # On a file system whose clock ticks coarsely (seconds on some), a file added within
    # the tick of the folder's last change leaves the folder's modification time as it
    # was. Played here by stamping the folder at the record's tick (later than the clock
    # now reads) and setting that time back after adding the file.
    site = tmp_path / "site"
    identities = write(site)
    folder = site / "tags" / "a"
    tick = time.time_ns() + 3600 * 10**9
    os.utime(folder, ns=(tick, tick))
    record = output.tree_record(site, identities)
    (folder / "extra.html").write_text("added in the same tick")
    os.utime(folder, ns=(tick, tick))
    assert output.unchanged_files(site, record) is None


@pytest.mark.parametrize("record", [b"", b"not a record", b"\x80\x05junk"])
def test_a_damaged_record_vouches_for_nothing(tmp_path, record):
    site = tmp_path / "site"
    write(site)
    assert output.unchanged_files(site, record) is None


ACTIONS = st.lists(st.tuples(st.sampled_from(["add", "delete", "edit", "mkdir", "rename"]),
                             st.sampled_from(FILES), st.integers(0, 3)), max_size=4)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_whatever_a_full_walk_notices_the_quick_look_notices(tmp_path, actions):
    site = tmp_path / "site"
    identities = write(site)
    settle(site)
    record = output.tree_record(site, identities)
    for action, name, n in actions:
        path = site / name
        if action == "add":
            (path.parent / f"new{n}.html").write_text("new")
        elif action == "delete" and path.exists():
            path.unlink()
        elif action == "edit" and path.exists():
            path.write_text(f"edited {n}")
        elif action == "mkdir":
            (path.parent / f"folder{n}").mkdir(exist_ok=True)
        elif action == "rename" and path.exists():
            path.rename(path.parent / f"renamed{n}.html")
    if output.snapshot(site) != identities:
        assert output.unchanged_files(site, record) is None, actions
    elif not actions:
        assert output.unchanged_files(site, record) == output.snapshot(site)
