"""Timing one command as a child process: wall time and peak resident memory.

Peak RSS is the larger of two readings: the kernel's own peak of the largest single process
in the child's tree (``wait4``'s ``ru_maxrss``: exact, but blind to workers running side by
side) and the sum of the RSS of the whole process tree sampled every 100 ms with psutil when
it is installed (counts parallel workers together; shared pages are counted once per
process, so it errs high). A multi-process build is therefore never flattered.

With psutil, the sampler also sums the tree's proportional set size (PSS, Linux): each page
shared by n processes counts 1/n in each, so the sum is the memory the tree really holds.
Forked workers share the parent's pages until they write them, which the RSS sum counts
once per worker; a single process's PSS is about its RSS less its share of libraries.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

try:
    import psutil
except ImportError:  # psutil is in the `bench` extra; without it only ru_maxrss is read
    psutil = None

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium: the browser of the browser tests and of ``benchmarks.preview --browser``."""
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")
"""Headless in a container: no sandbox, no GPU, nothing fetched in the background."""

SAMPLE_SECONDS = 0.1
PSS_SAMPLE_SECONDS = 1.0
"""PSS is read at most this often, and only near the RSS peak: the kernel walks every page
of a process to count it, which for a 10 GB tree took long enough to slow the build."""
MIB = 1024 * 1024


class BenchmarkError(Exception):
    """A measured command failed; the message carries the end of its error output."""


@dataclass(frozen=True, slots=True)
class Run:
    """One timed execution of a command."""

    seconds: float
    peak_rss: int
    """Bytes (see the module docstring for how it is read)."""
    peak_pss: int
    """Bytes: the peak of the tree's summed PSS; 0 where it cannot be read."""
    cpu_seconds: float
    """User + system CPU time of the process and the children it waited for: the work done,
    which, unlike wall time, a busy neighbour on a shared machine barely changes."""


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians over repeated runs of one measurement."""

    seconds: float
    peak_rss: int
    peak_pss: int
    cpu_seconds: float
    runs: int

    @classmethod
    def of(cls, runs: Sequence[Run]) -> Summary:
        return cls(seconds=statistics.median(r.seconds for r in runs),
                   peak_rss=int(statistics.median(r.peak_rss for r in runs)),
                   peak_pss=int(statistics.median(r.peak_pss for r in runs)),
                   cpu_seconds=statistics.median(r.cpu_seconds for r in runs), runs=len(runs))


def run_timed(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 3600.0) -> Run:
    """Run ``argv`` to completion; raise :class:`BenchmarkError` when it exits non-zero.

    The clock stops when the kernel reports the child's exit (a blocking ``wait4``); memory
    is sampled by a separate thread so sampling never delays that.
    """
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=errors)
        sampler = _TreeSampler(child.pid)
        sampler.start()
        watchdog = threading.Timer(timeout, child.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            watchdog.cancel()
            sampler.stop()
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if child.returncode != 0:
            errors.seek(0)
            tail = errors.read().decode("utf-8", "replace").strip().splitlines()[-15:]
            raise BenchmarkError(f"{' '.join(map(str, argv))} exited with {child.returncode}"
                                 f" after {seconds:.1f} s:\n" + "\n".join(tail))
    return Run(seconds=seconds, peak_rss=max(sampler.peak_rss, usage.ru_maxrss * 1024),
               peak_pss=sampler.peak_pss, cpu_seconds=usage.ru_utime + usage.ru_stime)


class _TreeSampler(threading.Thread):
    """Samples the summed RSS and PSS of a process tree until stopped; keeps the peaks."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.peak_rss = self.peak_pss = 0
        self._stopped = threading.Event()
        self._process = psutil.Process(pid) if psutil else None

    def run(self) -> None:
        last_pss = 0.0
        while self._process is not None and not self._stopped.wait(SAMPLE_SECONDS):
            rss = _tree_memory(self._process, pss=False)[0]
            self.peak_rss = max(self.peak_rss, rss)
            now = time.monotonic()
            if rss >= 0.9 * self.peak_rss and now - last_pss >= PSS_SAMPLE_SECONDS:
                last_pss = now
                self.peak_pss = max(self.peak_pss, _tree_memory(self._process, pss=True)[1])

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _tree_memory(process: "psutil.Process", *, pss: bool) -> tuple[int, int]:
    """The summed RSS and, when asked, PSS of ``process`` and its descendants (PSS 0 where
    unknown or not asked: reading it is costly)."""
    rss_sum = pss_sum = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:  # the process ended between two samples
        return 0, 0
    for member in members:
        try:
            found = member.memory_full_info() if pss else member.memory_info()
        except (psutil.Error, OSError):
            continue
        rss_sum += found.rss
        pss_sum += getattr(found, "pss", 0)
    return rss_sum, pss_sum


def repeat(times: int, prepare: Callable[[int], None], measure: Callable[[], Run],
           log: Callable[[str], None] | None = None, label: str = "run") -> Summary:
    """``prepare(i)`` (untimed) then ``measure()``, ``times`` times; the medians
    (:func:`measure_once` each time)."""
    return Summary.of([measure_once(lambda: prepare(i), measure, log, f"{label} {i + 1}/{times}")
                       for i in range(times)])


def measure_once(prepare: Callable[[], None], measure: Callable[[], Run],
                 log: Callable[[str], None] | None = None, label: str = "run") -> Run:
    """``prepare()`` (untimed) then ``measure()``.

    Before the timed run the disk's pending writes are flushed (``sync``, untimed, as
    hyperfine users do with ``--prepare sync``): else a run right after a cold build pays
    for writing back the hundreds of megabytes that build left in the page cache (a no-op
    measured 0.38 s on a settled disk took 0.6 s straight after a cold build).

    The run is logged as it finishes, so a long benchmark shows its progress."""
    prepare()
    os.sync()
    run = measure()
    if log:
        log(f"  {label}: {run.seconds:.2f} s (CPU {run.cpu_seconds:.2f} s), {mib(run.peak_rss)}")
    return run


def set_aside(paths: Sequence[Path], trash: Path) -> None:
    """Move ``paths`` (a build's output and caches) into a new folder of ``trash`` (made
    when missing), on the same disk, instead of deleting them before a cold build; the
    caller deletes ``trash`` once everything is measured. This machine's ext4 has no
    journal, and then a new inode is never one freed within the last minute: each file a
    build creates after 20,000 were deleted is found by scanning past them (10,000 folders
    with a file each took 1.5–2.2 s of kernel time right after 20,000 such were deleted,
    0.5–1.3 s after they were moved aside). Gazette's cold build of 10,000 stories took
    24.8 s after deleting its last output and 16.6 s after moving it aside, within the hour;
    Hugo's 13.6 and 14.3 s, not slowed this way. A fresh checkout deleted nothing just
    before."""
    trash.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=trash))
    for number, path in enumerate(paths):
        if path.exists() or path.is_symlink():
            path.rename(folder / f"{number}-{path.name}")


def machine() -> str:
    """Host, cores, Python, time and load: the context a figure needs to be read."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}), "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load}")


@dataclass(frozen=True, slots=True)
class OutputCount:
    html_pages: int
    files: int


def count_output(directory: Path) -> OutputCount:
    """HTML pages and all files under a built site."""
    html = files = 0
    for _, _, names in os.walk(directory):
        files += len(names)
        html += sum(name.endswith(".html") for name in names)
    return OutputCount(html_pages=html, files=files)


def snapshot_mtimes(directory: Path) -> dict[str, int]:
    """Modification time (ns) of every file under ``directory``, by relative path."""
    stamps = {}
    for folder, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(folder, name)
            stamps[os.path.relpath(path, directory)] = os.stat(path).st_mtime_ns
    return stamps


def files_touched(before: dict[str, int], after: dict[str, int]) -> int:
    """Files written, created or deleted between two snapshots."""
    changed = sum(1 for path, stamp in after.items() if before.get(path) != stamp)
    return changed + sum(1 for path in before if path not in after)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, columns padded so it also reads well in a terminal."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *map(line, rows)])


def mib(size: int) -> str:
    return f"{size / MIB:,.0f} MB"


def memory(summary: Summary) -> str:
    """Peak RSS and PSS as the tables show them (PSS n/a where it could not be read)."""
    return f"{mib(summary.peak_rss)} / {mib(summary.peak_pss) if summary.peak_pss else 'n/a'}"
