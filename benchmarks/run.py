"""Gazette's own benchmarks: normalize throughput and build times on a generated archive.

    python -m benchmarks.run [--sizes 1000,10000] [--full] [--repeat 3] [--seed 2021]

For each size a corpus of raw seed-shape stories (``benchmarks.generate``) is written to a
temporary project, and:

- normalize: stories per second through ``builder.ingest.parse_bytes`` in a loop, in this
  process, on one core (at most the first 10,000 files; bytes are read before timing);
- cold build: ``gazette --root DIR build`` as a child process with ``site/`` and the cache
  moved aside first (``measure.set_aside``);
- no-op rebuild: the same command again with nothing changed;
- one-story edit: a correction appended to one story (a different one each run), then a build;
- one story added: a new story of the same corpus (the next one the generator makes) put
  into ``content/``, then a build: an archive's daily work;
- peak RSS of the cold build (see ``benchmarks.measure``), HTML pages and files written, and
  how many output files the no-op and edit rebuilds touched (written, created or deleted).

Times are medians of ``--repeat`` runs. ``--full`` adds a 100,000-story archive.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.compare import gazette_builder, prepare_sites
from benchmarks.measure import (BenchmarkError, OutputCount, Run, Summary, count_output,
                                files_touched, machine, memory, repeat, run_timed, set_aside,
                                snapshot_mtimes, table)

DEFAULT_SIZES = (1_000, 10_000)
FULL_SIZE = 100_000
NORMALIZE_LIMIT = 10_000
EDIT_STRIDE = 7919
"""A prime: successive edits land on stories spread over the archive."""

TARGETS = """\
Targets (issue 5, at 10,000 stories): normalize >= 2,000 stories/s on one core; no-op rebuild
<= 0.5 s; one-story edit <= 1 s; cold build <= 1.0x Hugo and <= 0.2x Pelican and peak RSS
<= 0.5x Hugo (python -m benchmarks.compare); 100,000 stories cold <= 5 min at <= 2 GB."""


@dataclass(frozen=True, slots=True)
class Normalize:
    stories_per_second: float
    files: int
    failed: int
    """Files whose parse produced an error diagnostic (0 for a sound generator and ingest)."""


@dataclass(frozen=True, slots=True)
class SizeResult:
    """Every figure measured on one corpus size."""

    size: int
    normalize: Normalize | None
    cold: Summary | None
    noop: Summary | None
    edit: Summary | None
    add: Summary | None
    output: OutputCount | None
    touched_by_noop: int | None
    """Output files written, created or deleted by the last no-op rebuild (should be 0)."""
    touched_by_edit: int | None
    """The same for the last one-story edit (the story page and the pages that show it)."""
    problems: tuple[str, ...] = ()


def measure_normalize(root: Path, repeats: int, limit: int = NORMALIZE_LIMIT) -> Normalize:
    """Parse up to ``limit`` story files ``repeats`` times in this process; median rate."""
    from builder.config import load_config
    from builder.discover import story_files
    from builder.ingest import parse_bytes

    config = load_config(root)
    files = [Path(name) for name in story_files([config.content_path], config)[:limit]]
    inputs = [(path.read_bytes(), path.relative_to(config.content_path).as_posix())
              for path in files]
    rates, failed = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        results = [parse_bytes(data, relpath, config) for data, relpath in inputs]
        rates.append(len(inputs) / (time.perf_counter() - start))
        failed = sum(not result.ok for result in results)
    return Normalize(statistics.median(rates), len(inputs), failed)


def edit_story(path: Path, revision: int) -> None:
    """Append a correction to the last body paragraph, keeping the seed shape intact."""
    text = path.read_text(encoding="utf-8")
    body, separator, footer = text.rpartition("\n\n---\n\n")
    if not separator:
        raise BenchmarkError(f"{path}: not a generated seed-shape story (no footer separator)")
    correction = f" Correction {revision}: an earlier version of this story misstated a figure."
    path.write_text(body + correction + separator + footer, encoding="utf-8")


def measure_size(size: int, seed: int, repeats: int, workdir: Path | None,
                 log: Callable[[str], None]) -> SizeResult:
    with tempfile.TemporaryDirectory(prefix="gazette-bench-", dir=workdir) as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        # The stories added one by one later are the generator's next ones, made with the
        # corpus (a corpus is a prefix of a larger one) and held outside content/ until then.
        prepare_sites(root, size + repeats, seed, ["gazette"])
        newcomers = _set_aside_newest(root, repeats)
        log(f"{size:,} stories: corpus written in {time.perf_counter() - started:.1f} s")
        problems: list[str] = []
        log(f"{size:,} stories: normalize x{repeats} …")
        normalize = measure_normalize(root, repeats)
        if normalize.failed:
            problems.append(f"{normalize.failed} of {normalize.files} generated stories "
                            f"did not parse")
        try:
            return SizeResult(size, normalize,
                              *_measure_builds(root, repeats, log, size, newcomers),
                              problems=tuple(problems))
        except BenchmarkError as exc:
            problems.append(f"build failed: {exc}")
            return SizeResult(size, normalize, None, None, None, None, None, None, None,
                              tuple(problems))


def _set_aside_newest(root: Path, count: int) -> list[tuple[Path, Path]]:
    """Move the ``count`` stories the generator made last out of ``content/``: (where each
    is held, where it goes when added), in the generator's order."""
    content, held = root / "content", root / "newcomers"
    newest = sorted(content.rglob("*.txt"), key=lambda path: int(path.name.split("_")[0]))
    moves = []
    for path in newest[len(newest) - count:]:
        holding = held / path.relative_to(content)
        holding.parent.mkdir(parents=True, exist_ok=True)
        path.rename(holding)
        moves.append((holding, path))
    return moves


def _measure_builds(root: Path, repeats: int, log: Callable[[str], None], size: int,
                    newcomers: Sequence[tuple[Path, Path]]
                    ) -> tuple[Summary, Summary, Summary, Summary, OutputCount, int, int]:
    builder = gazette_builder(root)
    site = builder.output

    def build() -> Run:
        return run_timed(builder.command, builder.cwd, builder.env)

    def clean(_: int) -> None:
        set_aside(builder.scratch, root / ".trash")  # deleted with the corpus, at the end

    log(f"{size:,} stories: {repeats} cold builds …")
    cold = repeat(repeats, clean, build, log, "cold")
    output = count_output(site)

    log(f"{size:,} stories: {repeats} no-op rebuilds …")
    noop_before: dict[str, int] = {}

    def before_noop(_: int) -> None:
        noop_before.clear()
        noop_before.update(snapshot_mtimes(site))

    noop = repeat(repeats, before_noop, build, log, "no-op")
    touched_by_noop = files_touched(noop_before, snapshot_mtimes(site))

    log(f"{size:,} stories: {repeats} one-story edits …")
    stories = sorted((root / "content").rglob("*.txt"))
    edit_before: dict[str, int] = {}

    def before_edit(i: int) -> None:
        edit_before.clear()
        edit_before.update(snapshot_mtimes(site))
        edit_story(stories[(i * EDIT_STRIDE) % len(stories)], i + 1)

    edit = repeat(repeats, before_edit, build, log, "edit")
    touched_by_edit = files_touched(edit_before, snapshot_mtimes(site))

    log(f"{size:,} stories: {repeats} stories added …")

    def before_add(i: int) -> None:
        held, place = newcomers[i]
        held.rename(place)

    add = repeat(repeats, before_add, build, log, "add")
    return cold, noop, edit, add, output, touched_by_noop, touched_by_edit


def report(results: Sequence[SizeResult], repeats: int) -> str:
    def seconds(summary: Summary | None) -> str:
        return f"{summary.seconds:.2f} s ({summary.cpu_seconds:.2f})" if summary else "n/a"

    rows = []
    for r in results:
        rows.append([
            f"{r.size:,}",
            f"{r.normalize.stories_per_second:,.0f}/s" if r.normalize else "n/a",
            seconds(r.cold), seconds(r.noop), seconds(r.edit), seconds(r.add),
            memory(r.cold) if r.cold else "n/a",
            f"{r.output.html_pages:,}" if r.output else "n/a",
            f"{r.output.files:,}" if r.output else "n/a",
            "n/a" if r.touched_by_noop is None else f"{r.touched_by_noop} / {r.touched_by_edit}",
        ])
    lines = [
        f"Gazette, medians of {repeats} runs, {machine()}",
        "",
        table(["stories", "normalize (1 core)", "cold build (CPU)", "no-op rebuild (CPU)",
               "one-story edit (CPU)", "one story added (CPU)",
               "peak RSS / PSS (cold)", "HTML pages", "files", "files touched (no-op / edit)"], rows),
    ]
    for r in results:
        lines.extend(f"{r.size:,} stories: {problem}" for problem in r.problems)
    lines.extend(["", TARGETS])
    return "\n".join(lines)


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes numbers like 1000,10000, not {text!r}")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("--sizes must list positive story counts")
    return sizes


def positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_corpus_options(parser: argparse.ArgumentParser, repeat_help: str) -> None:
    """The options of every benchmark over generated corpora: sizes, repeats, seed, workdir."""
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES,
                        help="comma-separated story counts (default: 1000,10000)")
    parser.add_argument("--repeat", type=positive_count, default=3, help=repeat_help)
    parser.add_argument("--seed", type=int, default=2021, help="corpus seed (default: 2021)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to create the temporary projects (default: system temp dir)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_options(parser, "runs per figure (default: 3)")
    parser.add_argument("--full", action="store_true", help="also measure 100,000 stories")
    args = parser.parse_args(argv)
    sizes = [*args.sizes, FULL_SIZE] if args.full and FULL_SIZE not in args.sizes else args.sizes
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    results = [measure_size(size, args.seed, args.repeat, args.workdir, log) for size in sizes]
    print(report(results, args.repeat))
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
