"""Fingerprints: equal data gives equal digests in any process; any difference shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from builder.assemble import Link, Page
from builder.errors import Diagnostic
from builder.fingerprint import Fingerprinter, folder_digest
from builder.model import Story

REPO = Path(__file__).resolve().parent.parent
STORY = Story(id="a1", path="world/a1.md", title="Title", date=dt.date(2021, 1, 14),
              topic="world", slug="title", body="Body text.", tags=("Baku", "OPEC"))


def page(**data: object) -> Page:
    return Page(url="/x/", output="x/index.html", template="list.html", title="T",
                description="D", data=data)


def test_equal_pages_have_equal_fingerprints_whoever_computes_them():
    first = Fingerprinter(b"context").page(page(entries=(STORY,), heading="H"))
    copy = dataclasses.replace(STORY, tags=tuple(STORY.tags))
    assert Fingerprinter(b"context").page(page(entries=(copy,), heading="H")) == first
    script = ("import datetime as dt; from tests.test_fingerprint import page, STORY;"
              "from builder.fingerprint import Fingerprinter;"
              "print(Fingerprinter(b'context').page(page(entries=(STORY,), heading='H')).hex())")
    other = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                           text=True, env={"PYTHONPATH": str(REPO), "PYTHONHASHSEED": "7"})
    assert other.stdout.strip() == first.hex(), other.stderr


@pytest.mark.parametrize("change", [
    lambda: page(entries=(dataclasses.replace(STORY, body="Body text!"),), heading="H"),
    lambda: page(entries=(dataclasses.replace(STORY, date=dt.datetime(2021, 1, 14)),),
                 heading="H"),
    lambda: page(entries=(dataclasses.replace(STORY, warnings=(
        Diagnostic("a", 1, "warned"),)),), heading="H"),  # a field == ignores still counts
    lambda: page(entries=(STORY, STORY), heading="H"),
    lambda: page(entries=(STORY,), heading="H", extra=None),
    lambda: page(entries=(STORY,), heading=1),
    lambda: page(entries=[STORY], heading="H"),
    lambda: page(entries=(STORY,), heading="H", link=Link("H", "/")),
    lambda: dataclasses.replace(page(entries=(STORY,), heading="H"), template="term.html"),
])
def test_any_difference_changes_the_fingerprint(change):
    fingerprinter = Fingerprinter(b"context")
    assert fingerprinter.page(change()) != fingerprinter.page(page(entries=(STORY,), heading="H"))


def test_the_context_is_part_of_every_fingerprint():
    assert Fingerprinter(b"a").page(page()) != Fingerprinter(b"b").page(page())


def test_values_that_print_alike_differ():
    fingerprinter = Fingerprinter(b"")
    digests = {fingerprinter.of(v) for v in (1, 1.0, True, "1", b"1", ("1",), ["1"], None,
                                                 "None", ("a", "b"), ("ab",), ("a", ("b",)))}
    assert len(digests) == 12


def test_an_unknown_type_is_refused_not_guessed():
    with pytest.raises(TypeError, match="cannot fingerprint"):
        Fingerprinter(b"").page(page(thing=object()))


def test_folder_digest_sees_names_and_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "base.html").write_text("x")
    before = folder_digest([tmp_path / "a", tmp_path / "missing"])
    (tmp_path / "a" / "base.html").write_text("y")
    after = folder_digest([tmp_path / "a", tmp_path / "missing"])
    (tmp_path / "a" / "base.html").rename(tmp_path / "a" / "other.html")
    renamed = folder_digest([tmp_path / "a", tmp_path / "missing"])
    assert len({before, after, renamed}) == 3
    assert folder_digest([tmp_path / "missing", tmp_path / "a"]) != renamed  # order counts
