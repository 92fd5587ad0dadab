"""Issue 6, "Determinism": the same input builds the same bytes, whatever the machine's
time zone, locale, hash seed, umask, wall clock, worker count and the order in which the
content files were created. ``SOURCE_DATE_EPOCH`` fixes the one build timestamp that may
appear; without it nothing reads the clock.

The input is real and irregular: the sample corpus (every raw shape, bad files included),
the seed story and the hostile corpus.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT / "tests" / "fixtures"
CONFIG = """\
title = "Determinism"
base_url = "https://archive.example/news/"
timezone = "Asia/Baku"
per_page = 7
allow_undated = true
"""

QUIET_MACHINE = {"TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
ODD_MACHINE = {"TZ": "Pacific/Kiritimati", "LANG": "tr_TR.UTF-8", "LC_ALL": "tr_TR.UTF-8",
               "PYTHONHASHSEED": "4242"}
"""UTC+14, a locale whose case rules differ (dotless i) and another hash seed."""


def _sources() -> list[tuple[str, Path]]:
    """Content-relative name → fixture file, for every story of the test input."""
    found = [(f"wire/{p.name}", p) for p in sorted((FIXTURES / "corpus" / "raw").iterdir())]
    found += [(f"seed/{p.name}", p) for p in sorted((FIXTURES / "seed").iterdir())]
    hostile = FIXTURES / "hostile" / "content"
    found += [(p.relative_to(hostile).as_posix(), p) for p in sorted(hostile.rglob("*"))
              if p.is_file()]
    return found


def _project(root: Path, reverse: bool) -> Path:
    """A project with the test input, its files created in path order or in reverse (so
    directory listing order and inode numbers differ between the two trees)."""
    root.mkdir()
    (root / "gazette.toml").write_text(CONFIG, encoding="utf-8")
    sources = _sources()
    for relative, source in reversed(sources) if reverse else sources:
        target = root / "content" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


def _build(root: Path, machine: dict[str, str], umask: int, *args: str) -> None:
    env = {key: value for key, value in os.environ.items()
           if key not in ("SOURCE_DATE_EPOCH", "TZ", "LANG", "LC_ALL", "PYTHONHASHSEED")}
    env.update(machine, PYTHONPATH=str(PROJECT))
    done = subprocess.run([sys.executable, "-m", "builder", "--root", str(root), "build", *args],
                          env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: os.umask(umask))
    assert done.returncode in (0, 1), done.stderr  # 1: some corpus files are unreadable
    assert "Traceback" not in done.stderr, done.stderr
    assert (root / "site" / "index.html").is_file(), done.stderr


def _hashes(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(site.rglob("*")) if p.is_file()}


def _differences(first: dict[str, str], second: dict[str, str]) -> list[str]:
    only_first = sorted(set(first) - set(second))
    only_second = sorted(set(second) - set(first))
    changed = sorted(k for k in set(first) & set(second) if first[k] != second[k])
    return ([f"only in the first: {p}" for p in only_first[:5]]
            + [f"only in the second: {p}" for p in only_second[:5]]
            + [f"bytes differ: {p}" for p in changed[:10]])


@pytest.mark.parametrize("epoch", [None, "1700000000"], ids=["no-epoch", "source-date-epoch"])
def test_two_builds_on_different_machines_are_byte_identical(tmp_path, epoch):
    stamp = {"SOURCE_DATE_EPOCH": epoch} if epoch else {}
    first = _project(tmp_path / "first", reverse=False)
    second = _project(tmp_path / "second", reverse=True)
    _build(first, {**QUIET_MACHINE, **stamp}, 0o022, "--jobs", "1")
    time.sleep(1.1)  # a build that read the clock would now see another second
    _build(second, {**ODD_MACHINE, **stamp}, 0o077, "--jobs", "2")
    first_hashes, second_hashes = _hashes(first / "site"), _hashes(second / "site")
    assert len(first_hashes) > 100
    assert _differences(first_hashes, second_hashes) == []


def test_the_build_timestamp_comes_from_source_date_epoch_only(tmp_path):
    """With the epoch set, the feed's <updated> is that moment, and changing only the epoch
    changes only the files that show the build time."""
    root = _project(tmp_path / "project", reverse=False)
    _build(root, {**QUIET_MACHINE, "SOURCE_DATE_EPOCH": "1700000000"}, 0o022)
    feed = (root / "site" / "atom.xml").read_text(encoding="utf-8")
    assert "<updated>2023-11-14T22:13:20Z</updated>" in feed
    pages = _hashes(root / "site")
    _build(root, {**QUIET_MACHINE, "SOURCE_DATE_EPOCH": "1800000000"}, 0o022)
    changed = [p for p, digest in _hashes(root / "site").items() if pages.get(p) != digest]
    assert "atom.xml" in changed
    assert "<updated>2027-01-15T08:00:00Z</updated>" in (root / "site" / "atom.xml").read_text()
    story_pages = [p for p in changed if p.count("/") >= 4 and p.endswith("index.html")
                   and p[:4].isdigit()]
    assert story_pages == [], f"the build time changed story pages: {story_pages[:5]}"
