"""Every file of the sample corpus against its truth row (tests/fixtures/corpus/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.config import SiteConfig
from builder.ingest import parse_bytes
from builder.model import iso

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
TRUTH = [json.loads(line) for line in (CORPUS / "truth.jsonl").read_text().splitlines()]
UNDATED = {"raw/010_0c8209fe87f49a9e.txt", "raw/018_2e2500600f681cf3.txt"}
"""No date anywhere in the file: the truth date is the web page's dateCreated (notes)."""


def _parse(row: dict, config: SiteConfig = SiteConfig()):
    data = (CORPUS / row["file"]).read_bytes()
    return parse_bytes(data, row["file"].removeprefix("raw/"), config)


def test_every_corpus_file_has_a_truth_row():
    on_disk = {f"raw/{p.name}" for p in (CORPUS / "raw").iterdir()}
    assert on_disk == {row["file"] for row in TRUTH}
    assert len(TRUTH) == 102


@pytest.mark.parametrize("row", TRUTH, ids=lambda row: row["file"][4:7])
def test_corpus_file_matches_truth(row):
    result = _parse(row)
    if row["expect"] == "error" or row["file"] in UNDATED:
        errors = [d for d in result.diagnostics if d.is_error]
        assert not result.ok and not result.stories
        assert len(errors) == 1 and errors[0].hint, result.diagnostics
        assert errors[0].path == "content/" + row["file"].removeprefix("raw/")
        if row["file"] in UNDATED:
            assert errors[0].message == "no date anywhere in the file"
        return
    assert result.ok, result.diagnostics
    assert len(result.stories) == 1
    story = result.stories[0]
    assert iso(story.date)[:10] == row["date"]
    if story.shape == "plain":
        assert row["source"] == "Wikinews"
        assert story.source is None  # plain Wikinews files name no source; truth is provenance
    else:
        assert story.source == row["source"]
    if "title not in file" not in row["notes"] and row["title"]:
        assert story.title == row["title"]
        assert not story.title_inferred
    else:
        assert story.title and story.title_inferred == (story.shape != "front_matter")
    if story.shape == "reuters_sgml":
        expected_topic = row["topic"].split(";")[0] if row["topic"] else "general"
        assert story.topic == expected_topic
        if row["topic"]:
            assert list(story.tags) == row["topic"].split(";")


@pytest.mark.parametrize("name", sorted(UNDATED))
def test_undated_files_are_ok_when_allowed(name):
    row = next(r for r in TRUTH if r["file"] == name)
    result = _parse(row, SiteConfig(allow_undated=True))
    assert result.ok
    (story,) = result.stories
    assert story.date is None
    assert any("no date" in w.message for w in story.warnings)
    assert story.title == row["title"]


def test_corpus_shapes_are_recognised():
    shapes = {}
    for row in TRUTH:
        for story in _parse(row, SiteConfig(allow_undated=True)).stories:
            shapes[story.shape] = shapes.get(story.shape, 0) + 1
    assert shapes == {"seed": 57, "reuters_sgml": 24, "plain": 13, "front_matter": 4}


def test_wire_tickers_survive_as_escaped_text():
    row = next(r for r in TRUTH if r["file"].startswith("raw/000_"))
    story = _parse(row).stories[0]
    assert "Barnett Banks Inc" in story.body
    assert "<" not in story.body.replace("&lt;", "")
    assert story.dateline == "JACKSONVILLE, Fla."


def test_reuters_flash_has_empty_body_and_a_warning():
    row = next(r for r in TRUTH if r["file"].startswith("raw/016_"))
    result = _parse(row)
    (story,) = result.stories
    assert story.body == "" and story.title == row["title"]
    assert [w.message for w in story.warnings] == ["a wire flash: headline only, the body is empty"]


def test_ambiguous_dotted_date_warns_and_names_the_file():
    row = next(r for r in TRUTH if r["file"].startswith("raw/095_"))
    (story,) = _parse(row).stories
    (warning,) = story.warnings
    assert warning.path == "content/095_6a47dbef029e1175.txt" and warning.line == 1
    assert "ambiguous" in warning.message and warning.severity == "warning"
    month_first = _parse(row, SiteConfig(date_order="MDY")).stories[0]
    assert iso(month_first.date) == "1987-01-06"


def test_cp1252_files_decode_with_a_warning():
    row = next(r for r in TRUTH if r["file"].startswith("raw/028_"))
    (story,) = _parse(row).stories
    assert any("cp1252" in w.message for w in story.warnings)
    assert "\x85" not in story.body and "\ufffd" not in story.body


def test_every_body_sentence_is_kept():
    """Nothing of the story text is lost: every paragraph is in the body or the footer."""
    for row in TRUTH:
        if not row["file"].endswith(".txt") or row["expect"] == "error":
            continue
        result = _parse(row, SiteConfig(allow_undated=True))
        story = result.stories[0]
        if story.shape not in ("seed", "plain"):
            continue
        raw = (CORPUS / row["file"]).read_bytes().decode("utf-8-sig", "replace")
        kept = " ".join((story.body.replace("&lt;", "<") + " " + story.footer).split())
        for paragraph in raw.replace("\r", "").split("\n\n")[1:]:
            text = " ".join(paragraph.split())
            header = text == story.title or text.startswith(("Monday", "Tuesday", "Wednesday",
                                                             "Thursday", "Friday", "Saturday",
                                                             "Sunday"))
            if text and text != "---" and "\ufffd" not in text and not header:
                assert text in kept, (row["file"], text[:60])
