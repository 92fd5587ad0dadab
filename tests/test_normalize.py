"""``gazette normalize``: JSON lines, --write with .orig, idempotence, --dry-run."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from builder.cli import main
from builder.config import SiteConfig
from builder.ingest import parse_bytes
from builder.model import SCHEMA_KEYS
from builder.normalize import print_jsonl, to_markdown, write

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed" / "000_a203978440becfc5.txt"
CORPUS = FIXTURES / "corpus" / "raw"


def _project(tmp_path: Path, *files: Path) -> SiteConfig:
    content = tmp_path / "content" / "world"
    content.mkdir(parents=True)
    for file in files:
        shutil.copy(file, content / file.name)
    (tmp_path / "content" / "README.md").write_text("not a story")
    return SiteConfig(root=tmp_path)


def _run(function, config: SiteConfig, paths=None, **options) -> tuple[int, str]:
    out = io.StringIO()
    code = function(config, paths or [config.content_path], out=out, **options)
    return code, out.getvalue()


def test_jsonl_has_every_schema_key_in_input_order(tmp_path):
    config = _project(tmp_path, SEED, next(CORPUS.glob("086_*")), next(CORPUS.glob("095_*")))
    code, output = _run(print_jsonl, config)
    records = [json.loads(line) for line in output.splitlines()]
    assert code == 1  # the empty file is an error
    assert [r["file"] for r in records] == [
        "content/world/000_a203978440becfc5.txt", "content/world/086_ab83bdf5b2fc4e6d.txt",
        "content/world/095_6a47dbef029e1175.txt"]
    seed, empty, dotted = records
    assert seed["status"] == "ok" and list(seed)[2:2 + len(SCHEMA_KEYS)] == list(SCHEMA_KEYS)
    assert seed["date"] == "2021-01-14" and seed["topic"] == "world" and seed["warnings"] == []
    assert seed["tags"][:1] == ["Russia"] and seed["updated"] is None
    assert empty == {"file": "content/world/086_ab83bdf5b2fc4e6d.txt", "status": "error",
                     "error": "the file is empty", "line": None,
                     "hint": "delete it, or put a story in it"}
    assert dotted["warnings"][0]["line"] == 1 and "ambiguous" in dotted["warnings"][0]["message"]


def test_cli_normalize_prints_jsonl(tmp_path, capsys):
    config = _project(tmp_path, SEED)
    assert main(["--root", str(config.root), "normalize"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["title"].startswith("Phone conversation")


def test_write_keeps_the_original_and_is_idempotent(tmp_path):
    config = _project(tmp_path, SEED, next(CORPUS.glob("005_*")))
    code, output = _run(write, config, dry_run=False)
    assert code == 0 and output.count("normalized ") == 2
    assert (f"normalized content/world/{SEED.name} -> content/world/{SEED.name} "
            f"(original kept as {SEED.name}.orig)") in output
    folder = config.content_path / "world"
    seed = folder / SEED.name
    assert (folder / (SEED.name + ".orig")).read_bytes() == SEED.read_bytes()
    text = seed.read_text()
    assert text.startswith("---\ntitle: \"Phone conversation between Vladimir Putin")
    story = parse_bytes(seed.read_bytes(), f"world/{SEED.name}", config).stories[0]
    assert story.shape == "front_matter" and story.publisher == "AzerNewsAz"
    assert story.footer == "Follow us on Twitter @AzerNewsAz" and story.title_inferred
    snapshot = {p.name: p.read_bytes() for p in folder.iterdir()}
    code, output = _run(write, config, dry_run=False)  # a second run changes no byte
    assert code == 0 and output == ""
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == snapshot


def test_written_story_reads_back_as_the_same_story(tmp_path):
    config = _project(tmp_path, SEED)
    before = parse_bytes(SEED.read_bytes(), f"world/{SEED.name}", config).stories[0]
    _run(write, config, dry_run=False)
    after = parse_bytes((config.content_path / "world" / SEED.name).read_bytes(),
                        f"world/{SEED.name}", config).stories[0]
    for key in SCHEMA_KEYS:
        assert getattr(after, key) == getattr(before, key), key
    assert after.body == before.body


def test_dry_run_prints_a_diff_and_writes_nothing(tmp_path):
    config = _project(tmp_path, SEED)
    code, output = _run(write, config, dry_run=True)
    assert code == 0
    assert output.startswith(f"--- {config.content_path.as_posix()}/world/{SEED.name}\n+++ ")
    assert "\n- date 2021-01-14 By Trend\n" in output and "\n+date: 2021-01-14\n" in output
    assert sorted(p.name for p in (config.content_path / "world").iterdir()) == [SEED.name]


def test_write_splits_a_multi_record_file(tmp_path):
    config = _project(tmp_path)
    wire = config.content_path / "world" / "batch.sgm"
    wire.write_bytes(next(CORPUS.glob("096_*")).read_bytes() + next(CORPUS.glob("005_*")
                                                                    ).read_bytes())
    ids = [s.id for s in parse_bytes(wire.read_bytes(), "world/batch.sgm", config).stories]
    assert _run(write, config, dry_run=False)[0] == 0
    names = sorted(p.name for p in wire.parent.iterdir())
    assert names == ["batch-1.sgm", "batch-2.sgm", "batch.sgm.orig"]
    again = [parse_bytes((wire.parent / n).read_bytes(), f"world/{n}", config).stories[0]
             for n in names[:2]]
    assert [s.id for s in again] == ids  # ids survive the split (kept in front matter)


def test_write_reports_unreadable_files_and_leaves_them(tmp_path):
    config = _project(tmp_path, next(CORPUS.glob("065_*")))
    code, output = _run(write, config, dry_run=False)
    assert code == 1 and "this is a gzip archive" in output
    assert not list((config.content_path / "world").glob("*.orig"))


def test_to_markdown_layout():
    story = parse_bytes(b"Title: A: b\nDate: 2021-01-14 10:31\nTags: x\n\nLine one <ABC>.",
                        "x.txt", SiteConfig()).stories[0]
    assert to_markdown(story) == (
        '---\ntitle: "A: b"\ndate: 2021-01-14T10:31:00+00:00\ntopic: "general"\ntags:\n'
        '  - "x"\nslug: "a-b"\nid: "' + story.id + '"\nsummary: "Line one <ABC>."\n'
        'lang: "en"\n---\n\nLine one &lt;ABC>.\n')
