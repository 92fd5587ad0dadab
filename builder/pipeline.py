"""The build, top to bottom: the stages in the order they run, and nothing else.

    discover → read → assemble → check paths → render → write

Everything a stage needs is passed in and everything it produces is returned; reading the
environment (``SOURCE_DATE_EPOCH``) and timing stages happen here, at the edge.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jinja2

from builder import ingest, output, render, search, similarity
from builder.assemble import (Link, Page, Site, assemble, by_place, find_collisions,
                              shown_path)
from builder.config import SiteConfig
from builder.errors import BuildError, ConfigError, ContentError, Diagnostic
from builder.model import Story

__all__ = ["BuildResult", "CheckResult", "Progress", "build", "check"]

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as stories are read and pages rendered."""

_MIN_ITEMS_PER_WORKER = 500
"""Below this many items per worker, starting processes costs more than it saves."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build did."""

    stories: int
    """Stories published."""
    pages: int
    """Files rendered from templates (HTML pages, feeds, sitemap, robots.txt)."""
    written: int
    """Files whose bytes changed; the rest were hard-linked from the previous site."""
    skipped: tuple[Diagnostic, ...]
    """Errors: files or records that could not be read and are not on the site."""
    warnings: tuple[Diagnostic, ...]
    seconds: float
    timings: tuple[tuple[str, float], ...]
    """Seconds per stage, in the order the stages ran."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What ``gazette check`` found without writing anything."""

    errors: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]
    stories: int
    duplicates: tuple[tuple[str, ...], ...] = ()
    """Groups of story files that are one wire copy, the earliest version first."""


def build(config: SiteConfig, *, strict: bool = False, jobs: int | None = None,
          progress: Progress | None = None) -> BuildResult:
    """Build the site into ``config.output_path``; the previous site stays until the swap.

    A story that cannot be read is skipped and listed in ``skipped``; with ``strict`` any
    error stops the build (:class:`ContentError`) before anything is written.
    """
    started = time.perf_counter()
    timings: list[tuple[str, float]] = []
    workers = _workers(jobs)

    with _timed("read", timings):
        stories, diagnostics, sketches = _read(config, workers, progress)
    errors = tuple(sorted({d for d in diagnostics if d.is_error}, key=by_place))
    if strict and errors:
        raise ContentError(errors)
    with _timed("assemble", timings):
        site = assemble(stories, config, build_time=source_date_epoch(), sketches=sketches)
        statics = static_files(config)
        _refuse_collisions(site, statics)
        warnings = _warnings(site, diagnostics, config)
    with _timed("render", timings):
        rendered = _render(site.pages, config, site.nav, workers, progress)
    indexed: list[search.SearchStats] = []
    with _timed("write", timings):
        result = output.write_site(
            [*zip((p.output for p in site.pages), rendered), *site.files],
            config.output_path,
            copies=list(statics.items()),
            before_swap=(lambda staging: indexed.append(search.index_site(staging, config=config)))
            if config.search else None)
    if indexed:  # indexing runs inside the write stage, before the swap: time it apart
        timings.append(("search", indexed[0].seconds))
        warnings = tuple(sorted({*warnings, *indexed[0].warnings}, key=by_place))
    return BuildResult(stories=len(site.entries), pages=len(site.pages), written=result.written,
                       skipped=errors, warnings=warnings,
                       seconds=time.perf_counter() - started, timings=tuple(timings))


def check(config: SiteConfig) -> CheckResult:
    """Read every story and assemble the site, reporting every problem; write nothing."""
    stories, diagnostics, sketches = _read(config, _workers(1), None)
    site = assemble(stories, config, build_time=source_date_epoch(), sketches=sketches)
    collisions = find_collisions(site.pages, _claims(site, static_files(config)))
    found = [*diagnostics, *collisions, *_warnings(site, (), config)]
    path_of = {entry.story.id: shown_path(entry.story, config) for entry in site.entries}
    return CheckResult(errors=tuple(sorted({d for d in found if d.is_error}, key=by_place)),
                       warnings=tuple(sorted({d for d in found if not d.is_error}, key=by_place)),
                       stories=len(site.entries),
                       duplicates=tuple(tuple(path_of[i] for i in group)
                                        for group in site.duplicates.groups))


def source_date_epoch() -> dt.datetime | None:
    """The reproducible-builds timestamp, when ``SOURCE_DATE_EPOCH`` is set."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ConfigError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {value!r}")
    return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)


def static_files(config: SiteConfig) -> dict[str, Path]:
    """Output path → file for every static asset: Gazette's defaults, then the user's
    ``static/`` overriding them file by file. All published under ``static/``."""
    found: dict[str, Path] = {}
    for folder in (render.DEFAULT_STATIC, config.static_path):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                found["static/" + path.relative_to(folder).as_posix()] = path
    return dict(sorted(found.items()))


# -- stages ------------------------------------------------------------------------------

def _read(config: SiteConfig, workers: _Workers, progress: Progress | None
          ) -> tuple[list[Story], list[Diagnostic], dict[str, similarity.TextSketch]]:
    """Every story, every problem, and each story's text sketch for the duplicate finder
    (made here, in the workers, because sketching is the costly part of finding copies)."""
    paths = ingest.discover([config.content_path], config)
    stories: list[Story] = []
    diagnostics: list[Diagnostic] = []
    sketches: dict[str, similarity.TextSketch] = {}
    for done, (result, sketched) in enumerate(_map(_read_chunk, config, paths, workers), start=1):
        stories.extend(result.stories)
        diagnostics.extend(result.diagnostics)  # the file's and its stories' problems
        sketches.update(sketched)
        if progress:
            progress("read", done, len(paths))
    return stories, diagnostics, sketches


def _read_chunk(config: SiteConfig, _nav: object, paths: Sequence[Path]
                ) -> Iterator[tuple[ingest.FileResult, dict[str, similarity.TextSketch]]]:
    sketcher = similarity.Sketcher()
    for path in paths:
        result = ingest.read_file(path, config)
        yield result, {s.id: sketcher.sketch(s.body) for s in result.stories}


def _refuse_collisions(site: Site, statics: dict[str, Path]) -> None:
    collisions = find_collisions(site.pages, _claims(site, statics))
    if collisions:
        raise BuildError(f"{len(collisions)} output path(s) claimed twice; nothing was written",
                         collisions)


def _claims(site: Site, statics: dict[str, Path]) -> dict[str, str]:
    claims = {relative: f"static file {source}" for relative, source in statics.items()}
    claims.update({relative: "Gazette" for relative, _ in site.files})
    return claims


def _warnings(site: Site, diagnostics: Sequence[Diagnostic], config: SiteConfig
              ) -> tuple[Diagnostic, ...]:
    removed = [d for entry in site.entries
               for d in render.removed_html(entry.story, shown_path(entry.story, config))]
    found = {d for d in (*diagnostics, *site.diagnostics, *removed) if not d.is_error}
    return tuple(sorted(found, key=by_place))


def _render(pages: Sequence[Page], config: SiteConfig, nav: tuple[Link, ...], workers: _Workers,
            progress: Progress | None) -> list[bytes]:
    rendered: list[bytes] = []
    for done, data in enumerate(_map(_render_chunk, config, pages, workers, nav), start=1):
        rendered.append(data)
        if progress and (done % 100 == 0 or done == len(pages)):
            progress("render", done, len(pages))
    return rendered


def _render_chunk(config: SiteConfig, nav: tuple[Link, ...], pages: Sequence[Page]
                  ) -> Iterator[bytes]:
    # One environment per chunk (a process's whole share): templates compile once, and no
    # state is shared between processes.
    env = render.environment(config, nav)
    for page in pages:
        try:
            yield render.render_page(page, env)
        except jinja2.TemplateError as exc:  # a user's template is broken: say where
            where = f"{exc.filename}:{exc.lineno}: " if getattr(exc, "lineno", None) else ""
            raise BuildError(f"{where}cannot render {page.url} with template "
                             f"{page.template}: {exc.message or exc}") from None


# -- parallelism -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Workers:
    """How many processes may share a stage's work."""

    count: int
    min_items: int
    """Fewest items per process that justify starting one."""

    def for_items(self, items: int) -> int:
        return max(1, min(self.count, items // self.min_items))


def _workers(jobs: int | None) -> _Workers:
    """``--jobs N`` is taken at its word; by default, one process per core, and only when
    a stage has enough work to pay for starting them."""
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, not {jobs}")
    if jobs is not None:
        return _Workers(jobs, 1)
    return _Workers(os.cpu_count() or 1, _MIN_ITEMS_PER_WORKER)


def _map(function: Callable[..., Iterator], config: SiteConfig, items: Sequence,
         workers: _Workers, nav: tuple[Link, ...] = ()) -> Iterator:
    """Apply the generator ``function(config, nav, chunk)`` to chunks of ``items``, in order,
    yielding one result per item; in worker processes when there is enough work to pay for
    them. In-process the whole list is one lazy chunk, so set-up (compiling templates) runs
    once and results still arrive one by one for the progress bar."""
    processes = workers.for_items(len(items))
    if processes == 1:
        yield from function(config, nav, items)
        return
    # Few chunks: each builds its own environment (compiling the templates) once.
    size = max(1, -(-len(items) // (processes * 2)))
    bounds = [(start, min(start + size, len(items))) for start in range(0, len(items), size)]
    global _inherited
    _inherited = (function, config, nav, items)
    try:
        with ProcessPoolExecutor(max_workers=processes, mp_context=_FORK) as pool:
            for results in pool.map(_run_chunk, bounds):
                yield from results
    finally:
        _inherited = None


_FORK = multiprocessing.get_context("fork")
_inherited: tuple[Callable[..., Iterator], SiteConfig, tuple[Link, ...], Sequence] | None = None
"""The work of the pool being started. Forked workers inherit it instead of receiving it
pickled: pickling every page's stories to the workers cost more than rendering them."""


def _run_chunk(bounds: tuple[int, int]) -> list:
    """One worker's chunk of the inherited work, as one list (results cross back pickled)."""
    assert _inherited is not None  # set by _map before the pool forks
    function, config, nav, items = _inherited
    start, end = bounds
    return list(function(config, nav, items[start:end]))


@contextmanager
def _timed(stage: str, timings: list[tuple[str, float]]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings.append((stage, time.perf_counter() - started))
