"""The quick look at an output directory (output.tree_record / tree_unchanged): it must
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
TRUST_ALL = 2**62
"""A ``settled_ns`` after every folder's last change: each is recorded as it is."""


def write(root: Path) -> dict[str, output.FileIdentity]:
    result = output.write_site(((name, f"<p>{name}</p>".encode()) for name in FILES), root)
    return result.identities


def settle(root: Path) -> None:
    """Set every folder's modification time back an hour, as if the build were long past
    (a folder changed within a clock tick of the record is never trusted)."""
    for folder, _, _ in os.walk(root):
        info = os.stat(folder)
        os.utime(folder, ns=(info.st_atime_ns, info.st_mtime_ns - 3600 * 10**9))


def test_an_untouched_site_is_unchanged_and_every_tampering_is_seen(tmp_path):
    site = tmp_path / "site"
    identities = write(site)
    settle(site)
    record = output.tree_record(site, identities, TRUST_ALL)
    assert output.tree_unchanged(site, record)

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
        record = output.tree_record(site, identities, TRUST_ALL)
        assert output.tree_unchanged(site, record), what
        tamper()
        assert not output.tree_unchanged(site, record), what
        if (tmp_path / "elsewhere").exists():
            os.rename(tmp_path / "elsewhere", site)


def test_a_folder_changed_too_recently_is_never_trusted(tmp_path):
    site = tmp_path / "site"
    identities = write(site)
    # Taken at once: a file added within the same tick of the clock could leave the
    # folder's modification time as it was, so the record cannot vouch for it.
    record = output.tree_record(site, identities, time.time_ns() - 3 * 10**9)
    assert not output.tree_unchanged(site, record)


@pytest.mark.parametrize("record", [b"", b"not a record", b"\x80\x05junk"])
def test_a_damaged_record_vouches_for_nothing(tmp_path, record):
    site = tmp_path / "site"
    write(site)
    assert not output.tree_unchanged(site, record)


ACTIONS = st.lists(st.tuples(st.sampled_from(["add", "delete", "edit", "mkdir", "rename"]),
                             st.sampled_from(FILES), st.integers(0, 3)), max_size=4)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_whatever_a_full_walk_notices_the_quick_look_notices(tmp_path, actions):
    site = tmp_path / "site"
    identities = write(site)
    settle(site)
    record = output.tree_record(site, identities, TRUST_ALL)
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
        assert not output.tree_unchanged(site, record), actions
    elif not actions:
        assert output.tree_unchanged(site, record)
