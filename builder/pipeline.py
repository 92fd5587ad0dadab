"""The build, top to bottom: the stages in the order they run, and nothing else.

    discover → read → (all unchanged? done) → assemble → check paths → fingerprint
             → render (changed pages) + write (changed files), page by page

Everything a stage needs is passed in and everything it produces is returned; reading the
environment (``SOURCE_DATE_EPOCH``) and timing stages happen here, at the edge.

Rebuilds are incremental by construction, never by tracking who depends on whom
(:mod:`builder.cache`, :mod:`builder.fingerprint`):

- a story file is parsed only when no earlier parse of the same bytes, path, parse
  settings and parser code is in the cache;
- a build whose inputs (every story's key, the settings, templates, static files, code and
  ``SOURCE_DATE_EPOCH``) all equal the last build's, and whose output is still exactly what
  that build left, does nothing;
- otherwise the whole site is assembled, every page is fingerprinted (the data it shows,
  the settings, templates and code), and only pages whose fingerprint changed, or whose
  file is gone or was touched, are rendered. The rest keep their files;
- a build starts from the site model a build before it kept (in this process: the preview
  server's; else in the cache), and what did not change since keeps its parse, its place
  in the assembled site and its fingerprint: the same result, reached by less work.

Rendering and writing overlap: rendered pages flow to the staging tree as they come back
from the workers, a few hundred at a time (:func:`_map`), and are written there one by
one (:func:`builder.output.write_site`), so the site's bytes are never all in memory at
once. The two are timed as one stage, ``render+write``.

The parsers, Jinja and the search indexer are imported where a stage first needs them, not
at the top: a no-op build of 10,000 stories takes about half a second, and loading them
would add a quarter of a second to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import operator
import os
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from itertools import chain, compress
from pathlib import Path
from typing import TYPE_CHECKING

from builder import discover, memo, output
from builder.cache import Cache, LastBuild, PublishedFile, parse_context
from builder.config import DEFAULT_STATIC, DEFAULT_TEMPLATES, SiteConfig
from builder.errors import BuildError, ConfigError, ContentError, Diagnostic, by_place
from builder.fingerprint import (
    DIGEST_SIZE, Digests, Fingerprinter, RecordDigester, code_identity, folder_digest)

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    import jinja2

    from builder import ingest, search, similarity
    from builder.assemble import Link, Memo, Page, Site, Spawn
    from builder.model import Story

__all__ = ["BuildResult", "CheckResult", "Progress", "WarmBuilds", "build", "check"]

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as stories are read and pages rendered (and
written: a page is counted as it goes to the staging tree)."""

_MIN_ITEMS_PER_WORKER = 500
"""Below this many items per worker, starting processes costs more than it saves."""
_ITEMS_PER_TASK = 250
"""Items a worker process handles per task: its results (a few MB of rendered pages) cross
back pickled at once, so the pages held in memory stay a few tasks' worth."""
_LAST_ITEMS_PER_TASK = 10
"""The smallest task, at the very end of a stage."""
_TASKS_AHEAD_PER_WORKER = 2
"""Tasks queued per worker beyond the one whose results are being consumed: enough to keep
every worker busy, few enough that results cannot pile up when the writer is slower."""
_SWITCH_SECONDS_WHILE_POOLED = 0.0002
"""The interpreter's thread switch interval while a pool's results flow in (else 5 ms).
Results are received by a thread of the pool, which needs the GIL again after each 64 KB
read from a worker's pipe; while the main thread writes pages it drops the GIL only for
short system calls and takes it straight back, so the receiver waited out the whole 5 ms
per read and the workers sat blocked on their pipes: render+write of 10,000 stories took
34-48 s (0.5 ms: 23 s; 0.2 ms: 21 s; rendering then writing, before streaming: 22-25 s)."""
_STORED_AT_ONCE = 500
"""Parsed files written to the cache per transaction while the read stage runs."""
_IN_PLACE_SHARE = 0.05
"""With ``in_place`` (the preview's own directory), a rebuild that changes at most this
share of the site's files updates it in place; any other builds a whole new tree and swaps
it in (see :mod:`builder.output`)."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build did."""

    stories: int
    """Stories published."""
    pages: int
    """Files rendered from templates (HTML pages, feeds, sitemap, robots.txt)."""
    written: int
    """Files whose bytes changed; the rest were kept from the previous site."""
    skipped: tuple[Diagnostic, ...]
    """Errors: files or records that could not be read and are not on the site."""
    warnings: tuple[Diagnostic, ...]
    seconds: float
    timings: tuple[tuple[str, float], ...]
    """Seconds per stage, in the order the stages ran."""
    rendered: int = 0
    """Pages rendered by this build; the other ``pages - rendered`` were unchanged (their
    fingerprints equal the last build's) and kept their files."""
    parsed: int = 0
    """Story files parsed by this build; the others came from the cache."""


@dataclass(frozen=True, slots=True)
class _Summary:
    """What a build reports that a no-op rebuild reports again (kept in the cache)."""

    stories: int
    pages: int
    skipped: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What ``gazette check`` found without writing anything."""

    errors: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]
    stories: int
    duplicates: tuple[tuple[str, ...], ...] = ()
    """Groups of story files that are one wire copy, the earliest version first."""


@dataclass(frozen=True, slots=True)
class _Carried:
    """What one build leaves the next: in the same process (the preview server's), or
    kept in the cache for the next process (:func:`_keep_model`)."""

    config: SiteConfig
    """The settings it was made with."""
    sources: list[discover.Source]
    """The story files it found (without their bytes)."""
    reading: _Reading
    """What its read stage gave: the next starts from it and reads what changed."""
    site: Site
    """The last site assembled: it lends the next its unchanged entries and pages."""
    page_context: bytes
    """What every page's fingerprint mixed in (settings, templates, code, navigation)."""
    fingerprints: list[bytes]
    """Each page's fingerprint, in the order of ``site.pages``."""
    published: Mapping[str, bytes]
    """Each page's fingerprint, by its output file."""
    output: Path
    """The output directory it wrote."""
    present: Mapping[str, output.FileIdentity]
    """Every file of that directory as the build left it."""
    digests: Digests
    """The fingerprinter's digests of the stories, entries and terms it met."""
    removed_html: Mapping[int, tuple[Story, tuple[Diagnostic, ...]]]
    """What the sanitiser removed from each story shown, by the story object's id."""

    def __reduce__(self) -> tuple[object, ...]:
        # Kept in the cache for the next process (``Cache.keep_model``): the ids of the
        # stories the sanitiser's findings are filed under change as they unpickle.
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["removed_html"] = list(self.removed_html.values())
        return _carried_again, (values,)


def _carried_again(values: dict[str, object]) -> _Carried:
    """A :class:`_Carried` unpickled, the sanitiser's findings filed under the new ids."""
    removed_html = {id(story): (story, removed) for story, removed in values["removed_html"]}
    return _Carried(**{**values, "removed_html": removed_html})


def build(config: SiteConfig, *, strict: bool = False, jobs: int | None = None,
          progress: Progress | None = None, cache: Cache | None = None,
          in_place: bool = False) -> BuildResult:
    """Build the site into ``config.output_path``, re-rendering only what changed.

    A story that cannot be read is skipped and listed in ``skipped``; with ``strict`` any
    error stops the build (:class:`ContentError`) before anything is written. ``cache`` is
    an open :class:`Cache` to use (the preview server keeps one open, with its parses in
    memory); by default the project's cache in ``config.cache_path`` is opened for this
    build.

    ``in_place`` lets a small change be applied to the existing output by a burst of
    renames instead of a whole new tree swapped in: much faster on a big site, but a
    process killed inside the burst can leave pages of both builds. Only the preview
    server, which owns its output directory, asks for it; ``gazette build`` never does.
    """
    with _collector_paused():
        return _build(config, strict=strict, jobs=jobs, progress=progress, cache=cache,
                      in_place=in_place, carried=None, warm=False, resume=True)[0]


def _build(config: SiteConfig, *, strict: bool, jobs: int | None, progress: Progress | None,
           cache: Cache | None, in_place: bool, carried: _Carried | None, warm: bool,
           resume: bool = False, changed: Collection[str] | None = None
           ) -> tuple[BuildResult, _Carried | None]:
    """:func:`build`, taking what the last build in this process left (``carried``) and,
    when ``warm``, returning what the next may reuse. ``changed``: the paths changed since
    that build, when a watcher tells them (:func:`discover.sources_after`).

    ``resume``: a build in a new process starts from the model a build before it kept in
    the cache, as if it were that build's successor in one process, and keeps its own
    when it could not start from that one (:func:`_keeps_model`)."""
    started = time.perf_counter()
    timings: list[tuple[str, float]] = []
    workers = _workers(jobs)
    site_dir = config.output_path
    with (nullcontext(cache) if cache else Cache.open(config.cache_path)) as store:
        with _timed("read", timings):
            sources = (discover.sources_after(carried.sources, changed, config, store)
                       if carried is not None and changed is not None
                       and carried.config == config else None)
            if sources is None:
                sources = discover.sources(config, store)
            build_time = source_date_epoch()
            context = _context(config, build_time)
            inputs = _inputs(context, sources)
            record = store.build_record(site_dir)
            same_inputs = record is not None and record.inputs == inputs
            # The preview's output directory is its own: what its last build left is there.
            trusted = (carried.present if carried is not None and in_place
                       and carried.output == site_dir else None)
            if resume and carried is None and record is not None and not same_inputs:
                # Not a no-op: the kept model is loaded while the output is checked.
                checking = output.unchanged_files_meanwhile(site_dir, record.tree)
                try:
                    carried = _kept_model(store, site_dir)
                finally:
                    as_recorded = checking()
            else:
                as_recorded = (output.unchanged_files(site_dir, record.tree)
                               if record is not None and (same_inputs or trusted is None)
                               else None)
            unchanged = same_inputs and as_recorded is not None
            if not unchanged:
                last = store.last_build(site_dir)
                present = (trusted if trusted is not None
                           else as_recorded if as_recorded is not None
                           else output.snapshot(site_dir))
                # The quick look at the output cannot tell a folder changed just after the
                # build: the full one can, and once it finds all as left, the quick one will.
                unchanged = same_inputs and last is not None and last.still_on_disk(present)
                if not unchanged:
                    reading = _read(config, sources, store, workers, progress,
                                    carried.reading if carried else None)
                    # Parsed: the files' bytes go (43 MB at 10,000 stories, else held to
                    # the end of the build, and in memory the render workers start with).
                    sources = [s if s.data is None else s.without_bytes() for s in sources]
                elif trusted is None:  # the preview's own folder goes unrecorded
                    # Only a record of the whole tree: one made from a walk could leave out
                    # a folder that holds no file, and a file added to it later unseen.
                    refreshed = output.exact_record(site_dir, present)
                    if refreshed is not None:
                        store.record_tree(site_dir, refreshed)
        if unchanged:  # the same inputs and the same output: the site is already built
            return _already_built(record.summary, store.notes, strict, started,
                                  timings), carried
        stories = [story for result in reading.results for story in result.stories]
        diagnostics = [d for result in reading.results for d in result.diagnostics]
        errors = tuple(sorted({d for d in diagnostics if d.is_error}, key=by_place))
        if strict and errors:
            raise ContentError(errors)
        from builder.assemble import assemble

        with _timed("assemble", timings):
            site = assemble(stories, config, build_time=build_time, sketches=reading.sketches,
                            memo=_memo(store), previous=carried.site if carried else None,
                            mapper=_mapper(workers), spawn=_spawner(workers, len(stories)))
            statics = static_files(config)
            _refuse_collisions(site, statics)
            removed_html = _removed_html(site, config, carried.removed_html if carried else {})
            warnings = _warnings(site, diagnostics, removed_html)
        with _timed("fingerprint", timings):
            page_context = Fingerprinter(b"").of((context, site.nav))
            # The stories' digests made as they were parsed, and the last build's of the
            # stories, entries and terms it met, when they are the very same objects (in
            # this process; else when read and assembled from them): else they would only
            # keep the objects of a model no longer used alive through rendering.
            fingerprinter = Fingerprinter(page_context, known=(
                [reading.digests, carried.digests] if carried and (
                    warm or (reading.by_difference and carried.config == config))
                else [reading.digests]))
            outputs = list(map(_OUTPUT, site.pages))
            # A first build renders every page whatever its fingerprint: the processes that
            # render the pages fingerprint them too, rather than this one alone beforehand
            # while the other cores wait (not the preview's, which keeps this process's
            # digests for its next build).
            fingerprints: list[bytes] = []
            fingerprinting = None
            if trusted is None and not warm and not (last and last.files):
                changed = site.pages
                fingerprinting = (fingerprinter, fingerprints)  # filled as pages render
            else:
                fingerprints = _fingerprints(site, fingerprinter, (
                    carried.site.pages, carried.fingerprints)
                    if carried and carried.page_context == page_context else None)
                if trusted is not None:  # its files are as the last build left them:
                    # compare fingerprints alone, at C speed (a one-story rebuild of the
                    # preview)
                    changed = list(compress(site.pages, map(
                        operator.ne, map(carried.published.get, outputs), fingerprints)))
                else:
                    previous = last.files if last else {}
                    changed = [page for page, fingerprint, was, now in zip(
                                   site.pages, fingerprints, map(previous.get, outputs),
                                   map(present.get, outputs))
                               if not _still_published(was, fingerprint, now)]
        parsed = reading.parsed
        keep_model = resume and _keeps_model(carried, reading, site, page_context, last)
        if resume and reading.contested and carried is not None:
            store.forget_model(site_dir)  # no build could read by difference from it
        if not warm:  # let go of what the render workers need not inherit: the kept model
            carried = None  # it started from, the memos and, unless kept, the parses and
            memo.forget()  # digests (each story's sketch alone is 1 KB: 100 MB at 100,000)
            if not keep_model:
                del reading, fingerprinter
        # One stage: each page is written as it is rendered, while the next ones render.
        with _timed("render+write", timings):
            wrote, indexed = _write(
                config, site, changed, statics, present, in_place=in_place,
                render=lambda tree: _render(changed, config, site.nav, context, workers,
                                            progress, tree, fingerprinting),
                recorded=record.tree if as_recorded is not None else b"",
                reserve=record.reserve if record is not None else b"")
        identities = wrote.identities
        if indexed:  # indexing runs inside the write stage, before the swap: time it apart
            timings.append(("search", indexed.seconds))
            warnings = tuple(sorted({*warnings, *indexed.warnings}, key=by_place))
        by_output = dict(zip(outputs, fingerprints))
        summary = _Summary(stories=len(site.entries), pages=len(site.pages), skipped=errors,
                           warnings=warnings)
        # A folder trusted as the last build left it (the preview's own) has its record
        # amended by what this build changed: no later process builds into it, so its tree
        # goes unrecorded, and comparing every file's record would cost more than the rest.
        if trusted is None or not store.record_changes(
                site_dir, inputs, summary,
                _records(_touched(changed, identities, trusted), identities, by_output),
                trusted.keys() - identities.keys()):
            store.record_build(site_dir, inputs, summary,
                               _records(identities, identities, by_output),
                               (wrote.tree or output.tree_record(site_dir, identities))
                               if trusted is None else b"", wrote.reserve)
        store.retain_parsed([source.key for source in sources])
        carrying = None if not warm and not keep_model else _Carried(
            config=config, sources=sources,
            reading=reading, site=site, page_context=page_context, fingerprints=fingerprints,
            published=by_output, output=site_dir, present=identities,
            digests=_digests_kept(fingerprinter, site), removed_html=removed_html)
        if keep_model:  # once the site is published: the model only saves time
            with _timed("keep model", timings):
                _keep_model(store, carrying)
    result = BuildResult(stories=summary.stories, pages=summary.pages, written=wrote.written,
                         skipped=errors, warnings=_with_notes(warnings, store.notes),
                         seconds=time.perf_counter() - started, timings=tuple(timings),
                         rendered=len(changed), parsed=parsed)
    return result, carrying if warm else None


def _kept_model(store: Cache, site_dir: Path) -> _Carried | None:
    """What the build that last kept its model of ``site_dir`` in ``store`` carries over."""
    kept = store.kept_model(site_dir, code_identity())
    return kept if type(kept) is _Carried else None


def _keep_model(store: Cache, carrying: _Carried) -> None:
    """Keep what ``carrying`` holds of the site in ``store``, for :func:`_kept_model`: not
    what it says of the output, which only its own process may trust, nor the story files
    it found (a new process looks at them all again)."""
    from builder.assemble import ready_to_patch

    store.keep_model(carrying.output, code_identity(), dataclasses.replace(
        carrying, site=ready_to_patch(carrying.site, carrying.reading.sketches),
        sources=[], published={}, present={}))


def _keeps_model(kept: _Carried | None, reading: _Reading, site: Site, page_context: bytes,
                 last: LastBuild | None) -> bool:
    """Whether a build that resumes from the ``kept`` model keeps its own for the next: when
    it could not make full use of that one. None was loaded; or the read could not be made
    from it (more than 64 files new or gone since: an edit is one of each); or the site
    could not be patched from it (a story added or removed, one edited in more than its
    text: headline, dates, URL, terms; more than 16 edited; a wire copy edited; another
    setting or ``SOURCE_DATE_EPOCH``); or its pages were fingerprinted under other
    templates or settings. Never a first build (the next has all it needs from it, and
    keeping the model would hold every parse through rendering: 100 MB of sketches alone at
    100,000 stories), nor one where two files claim one story id (no build could read by
    difference from the model)."""
    return (last is not None and bool(last.files) and not reading.contested
            and (kept is None or kept.page_context != page_context
                 or not reading.by_difference or site.patching is None))


class WarmBuilds:
    """``build`` again and again with one cache kept open, so the parsed stories and the
    record of the last build stay in memory between builds (the preview server's rebuilds
    skip reading them back from SQLite). Call :meth:`close` when done."""

    def __init__(self) -> None:
        self._cache: Cache | None = None
        self._folder: Path | None = None
        self._carried: _Carried | None = None

    def __call__(self, config: SiteConfig, *, strict: bool = False, jobs: int | None = None,
                 progress: Progress | None = None, changed: Collection[str] | None = None
                 ) -> BuildResult:
        """``changed``: the absolute paths of the files and folders changed since the last
        call, when a watcher tells them (the preview server): only those are looked at to
        find what changed among the story files (:meth:`unseen_changes` checks the rest).
        None: every story file is looked at."""
        if self._cache is None or self._folder != config.cache_path:  # cache_dir edited
            self.close()
            self._cache, self._folder = (Cache.open(config.cache_path, long_lived=True),
                                          config.cache_path)
        # A failed build carries nothing over, and the next starts afresh: it may have
        # changed the output before it failed.
        carried, self._carried = self._carried, None
        with _collector_paused():
            result, self._carried = _build(
                config, strict=strict, jobs=jobs, progress=progress, cache=self._cache,
                in_place=True, carried=carried, warm=True,  # in place: its own output folder
                changed=changed)
        return result

    def unseen_changes(self) -> bool:
        """Whether the story files differ from those the last build took them to be: every
        one looked at (:func:`discover.sources`), as a build told nothing would. A watcher
        that misses an event (its kernel queue overflowed, say) leaves a change unseen; the
        preview server asks this once a build told by the watcher is live."""
        carried = self._carried
        if carried is None or self._cache is None:
            return False
        with _collector_paused():
            found = discover.sources(carried.config, self._cache)
        return ([(s.path, s.key) for s in found]
                != [(s.path, s.key) for s in carried.sources])

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def _already_built(summary: _Summary, notes: Sequence[Diagnostic], strict: bool,
                   started: float, timings: list[tuple[str, float]]) -> BuildResult:
    if strict and summary.skipped:
        raise ContentError(summary.skipped)
    return BuildResult(stories=summary.stories, pages=summary.pages, written=0,
                       skipped=summary.skipped, warnings=_with_notes(summary.warnings, notes),
                       seconds=time.perf_counter() - started, timings=tuple(timings))


def _with_notes(warnings: tuple[Diagnostic, ...], notes: Sequence[Diagnostic]
                ) -> tuple[Diagnostic, ...]:
    """A build's warnings and the cache's notes on this build (a replaced database, say):
    the notes are not the site's, so a later no-op build does not report them again."""
    return tuple(sorted({*warnings, *notes}, key=by_place))


def check(config: SiteConfig) -> CheckResult:
    """Read every story and assemble the site, reporting every problem; write nothing
    but the parse cache."""
    from builder.assemble import assemble, find_collisions, shown_path

    with _collector_paused(), Cache.open(config.cache_path) as store:
        reading = _read(config, discover.sources(config, store), store, _workers(1), None)
        results = reading.results
        stories = [story for result in results for story in result.stories]
        site = assemble(stories, config, build_time=source_date_epoch(),
                        sketches=reading.sketches,
                        memo=_memo(store))
    diagnostics = [d for result in results for d in result.diagnostics]
    collisions = find_collisions(site.pages, _claims(site, static_files(config)))
    found = [*diagnostics, *collisions, *_warnings(site, (), _removed_html(site, config, {}))]
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
    for folder in (DEFAULT_STATIC, config.static_path):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                found["static/" + path.relative_to(folder).as_posix()] = path
    return dict(sorted(found.items()))


# -- stages ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Reading:
    """What the read stage gives the later ones."""

    results: list[ingest.FileResult]
    """The parse of every file, in discovery order."""
    sketches: dict[str, similarity.TextSketch]
    """Each story's text sketch for the duplicate finder, by story id."""
    digests: Digests
    """Each story's fingerprint digest (``Fingerprinter(known=)``)."""
    parsed: int
    """How many files were parsed rather than taken from the cache."""
    parses: dict[str, _Parse]
    """Each file's parse by its key: the next read in this process starts from them."""
    contested: bool
    """Whether two files claim one story id (then neither lends its sketch)."""
    by_difference: bool = False
    """Whether it was made from the read before (:func:`_read_by_difference`)."""


_READ_BY_DIFFERENCE_AT_MOST = 64
"""Changed files up to which a read starts from the last one (:func:`_read_by_difference`)."""


def _read(config: SiteConfig, sources: Sequence[discover.Source], store: Cache, workers: _Workers,
          progress: Progress | None, previous: _Reading | None = None) -> _Reading:
    """Every file's parse, with its stories' sketches and digests: from the cache, else made
    (in worker processes when there are many) and stored. From the ``previous`` read in this
    process when few files changed since."""
    if previous is not None:
        reading = _read_by_difference(config, sources, store, workers, previous)
        if reading is not None:
            return reading
    parses, parsed = _parses(config, sources, store, workers, progress)
    results = []
    sketches: dict[str, similarity.TextSketch | None] = {}
    digests: list[tuple[object, bytes]] = []
    for source in sources:
        result, sketched, digested = parses[source.key]
        results.append(result)
        for story_id, sketch in sketched.items():
            # Two files claiming one id (refused later) must not lend each other a sketch:
            # neither gets one from here, and assemble makes its own.
            sketches[story_id] = None if story_id in sketches else sketch
        digests.extend(zip(result.stories, digested))
    kept = {i: s for i, s in sketches.items() if s is not None}
    return _Reading(results, kept, Digests.of(digests), parsed, parses,
                    contested=len(kept) < len(sketches))


def _read_by_difference(config: SiteConfig, sources: Sequence[discover.Source], store: Cache,
                        workers: _Workers, previous: _Reading) -> _Reading | None:
    """:func:`_read` of ``sources``, made from the ``previous`` read by what changed: the
    parses of files gone taken out, those of new keys put in. None when many changed, or
    when a story id is claimed by two files (before or after)."""
    if previous.contested:
        return None
    before = previous.parses
    keys = [source.key for source in sources]
    gone = before.keys() - set(keys)
    fresh = [source for source in sources if source.key not in before]
    if len(gone) + len(fresh) > _READ_BY_DIFFERENCE_AT_MOST:
        return None
    new, parsed = _parses(config, fresh, store, workers, None)
    parses = {**before, **new}
    sketches = dict(previous.sketches)
    gone_stories = []
    for key in gone:
        result, sketched, _ = parses.pop(key)
        for story_id in sketched:
            del sketches[story_id]
        gone_stories.extend(result.stories)
    for _, sketched, _ in new.values():
        if not sketched.keys().isdisjoint(sketches):
            return None
        sketches.update(sketched)
    digests = previous.digests.changed(gone_stories, chain.from_iterable(
        zip(result.stories, digested) for result, _, digested in new.values()))
    return _Reading(list(map(_RESULT, map(parses.__getitem__, keys))), sketches, digests,
                    parsed, parses, contested=False, by_difference=True)


def _parses(config: SiteConfig, sources: Sequence[discover.Source], store: Cache,
            workers: _Workers, progress: Progress | None) -> tuple[dict[str, _Parse], int]:
    """The parse of each source by its key (from the cache, else made and stored), and how
    many were made. A file is read again to be parsed, and stored under the key of the
    bytes read: it may have been written since its key was taken."""
    found = store.parsed([s.key for s in sources if s.readable])
    context = parse_context(config)
    missing = [s for s in sources if s.key not in found]
    read = [s.with_bytes(context) if s.data is None and s.readable else s for s in missing]
    if progress and found:
        progress("read", len(found), len(sources))
    new: dict[str, object] = {}
    for done, (source, read_as, parsed) in enumerate(
            zip(missing, read, _map(_file_parser, read, workers, config)),
            start=len(found) + 1):
        if read_as.readable:
            new[read_as.key] = parsed
        found[source.key] = parsed
        if len(new) == _STORED_AT_ONCE:
            # Stored as they come, while the workers parse on: pickling them all at the
            # end held every pickle at once (a gigabyte at 100,000 stories) and kept the
            # workers' last seconds waiting for the database.
            store.store_parsed(new)
            new = {}
        if progress:
            progress("read", done, len(sources))
    store.store_parsed(new)
    return found, len(missing)


_Parse = tuple["ingest.FileResult", dict[str, "similarity.TextSketch"], tuple[bytes, ...]]
"""A file's parse, the text sketch of each of its stories by story id, and each story's
fingerprint digest (:class:`builder.fingerprint.RecordDigester`), in the order of its stories."""


def _file_parser(config: SiteConfig) -> Callable[[discover.Source], _Parse]:
    # Sketching is the costly part of finding wire copies, and a pure function of a story:
    # done here, in the workers, and cached with the parse. One sketcher per process.
    from builder import ingest, similarity  # the parsers: a no-op build never loads them

    sketcher = similarity.Sketcher()
    record_digest = RecordDigester()

    def parse(source: discover.Source) -> _Parse:
        result = (ingest.read_file(Path(source.path), config) if source.data is None
                  else ingest.parse_bytes(source.data, source.relpath, config))
        return (result, {s.id: sketcher.sketch(s.body) for s in result.stories},
                tuple(record_digest(s) for s in result.stories))

    return parse


def _memo(store: Cache) -> Memo:
    """Results of assemble's costly pure steps, kept in the cache under their inputs'
    digest and the code's (a new version of the code never reuses an old result)."""
    return lambda key, compute: store.remembered(code_identity() + key, compute)


def _context(config: SiteConfig, build_time: dt.datetime | None) -> bytes:
    """Digest of everything besides the stories that the site is made from: the code, the
    templates, the static files, every setting and the build timestamp."""
    digest = Fingerprinter(b"")
    return digest.of((code_identity(),
                      folder_digest([config.templates_path, DEFAULT_TEMPLATES]),
                      folder_digest([DEFAULT_STATIC, config.static_path]),
                      config.portable, build_time))


def _inputs(context: bytes, sources: Sequence[discover.Source]) -> bytes:
    """Digest of all a build reads: the context and every story file's key, in order.
    An unreadable file has no stable key, so a build with one never counts as unchanged."""
    if not all(s.readable for s in sources):
        return Fingerprinter(b"").of((context, "unreadable", time.time_ns()))
    # Keys are hex digests: joined with a separator they read back one way only.
    return hashlib.sha256(b"%d:%s%s" % (len(context), context, "\n".join(
        map(_KEY, sources)).encode())).digest()[:DIGEST_SIZE]


_KEY = operator.attrgetter("key")
_RESULT = operator.itemgetter(0)
_OUTPUT = operator.attrgetter("output")


def _fingerprints(site: Site, fingerprinter: Fingerprinter,
                  before: tuple[Sequence[Page], Sequence[bytes]] | None) -> list[bytes]:
    """One fingerprint per page: what it shows, plus the context and the navigation every
    template sees (the fingerprinter's context). A page object fingerprinted before under
    that context (``before``: pages and their fingerprints) keeps its fingerprint: pages are
    frozen all the way down. In this process: forked workers would copy every story they
    touch (reference counts write to the shared pages), which costs more than the digests."""
    pages = site.pages
    if before is None:
        return list(map(fingerprinter.page, pages))
    pages_before, fingerprints_before = before
    if len(pages_before) == len(pages):  # a patched site: its pages where they were
        fingerprints = list(fingerprints_before)
        for position in compress(range(len(pages)), map(operator.is_not, pages, pages_before)):
            fingerprints[position] = fingerprinter.page(pages[position])
        return fingerprints
    # The site's pages are alive, so an id among them names one page.
    known = dict(zip(map(id, pages_before), zip(pages_before, fingerprints_before)))
    fingerprints = []
    for page in pages:
        found = known.get(id(page))
        fingerprints.append(found[1] if found is not None and found[0] is page
                            else fingerprinter.page(page))
    return fingerprints


def _digests_kept(fingerprinter: Fingerprinter, site: Site) -> Digests:
    """The digests a build hands the next in its process: all it made or was given, as long
    as they are fewer than twice what the site shows; else those of what it shows (the
    rest name stories edited since, kept alive by the digests alone)."""
    digests = fingerprinter.digests()
    shown = 2 * len(site.entries) + sum(map(len, site.taxonomies.values()))
    if len(digests) <= 2 * shown:
        return digests
    return fingerprinter.known_digests(chain(
        site.entries, (entry.story for entry in site.entries),
        chain.from_iterable(site.taxonomies.values())))


def _records(files: Iterable[str], identities: Mapping[str, output.FileIdentity],
             fingerprints: Mapping[str, bytes]) -> dict[str, PublishedFile]:
    """What the build's record says of each of ``files``: its identity, and its page's
    fingerprint (empty for a file that is no page)."""
    return {relative: PublishedFile(fingerprints.get(relative, b""), *identities[relative])
            for relative in files}


def _touched(changed: Sequence[Page], identities: Mapping[str, output.FileIdentity],
             before: Mapping[str, output.FileIdentity]) -> set[str]:
    """The files whose record changes: the pages rendered (written or not: their
    fingerprint changed) and every file not left as it was ``before`` (the same identity
    objects, which the output keeps for the files it leaves alone)."""
    return set(map(_OUTPUT, changed)).union(compress(identities, map(
        operator.is_not, map(before.get, identities), identities.values())))


def _still_published(previous: PublishedFile | None, fingerprint: bytes,
                     present: tuple[int, int, int] | None) -> bool:
    """True if the last build wrote this page from the same fingerprint and its file is
    still exactly as written."""
    return (previous is not None and previous.fingerprint == fingerprint
            and previous.identity == present)


def _write(config: SiteConfig, site: Site, changed: Sequence[Page],
           statics: dict[str, Path], present: dict[str, output.FileIdentity], *,
           in_place: bool, render: Callable[[output.StagingTree | None], Iterator[_Rendered]],
           recorded: bytes, reserve: bytes
           ) -> tuple[output.WriteResult, search.SearchStats | None]:
    """Publish the site, the ``changed`` pages as ``render`` gives them (in their order,
    consumed one by one as they are written; staged by the processes that render them in a
    staging tree they may write to) and every other page's file kept, through a staging directory
    swapped in whole; or, when ``in_place`` is allowed, apply a small change to an existing
    site by a burst of renames (not for a first build, nor one whose search index must be
    made over the whole site). ``recorded`` and ``reserve``: the last build's records of
    the output, just found unchanged, and of the reserve (:func:`output.write_site`)."""
    from builder import search

    site_dir = config.output_path

    def fresh(tree: output.StagingTree | None) -> Iterator[tuple[str, bytes | output.Staged]]:
        # Closed on the way out, so a failed write stops the workers there and then.
        with closing(render(tree)) as rendered:
            yield from rendered
        yield from site.files

    # ``changed`` are some of the site's pages, in their order: all of them in a first build,
    # which needs no set of 160,000 paths to tell (at 100,000 stories).
    if len(changed) == len(site.pages):
        kept = []
    else:
        changed_paths = set(map(_OUTPUT, changed))
        kept = [page.output for page in site.pages if page.output not in changed_paths]
    if in_place and present and not config.search and _small_change(site, changed, statics,
                                                                     present):
        result = output.update_site(fresh(None), site_dir, present,
                                    copies=list(statics.items()), kept=kept)
        return output.WriteResult(result.written, result.kept, result.identities), None
    indexed: list[search.SearchStats] = []
    result = output.write_site(
        fresh, site_dir, copies=list(statics.items()), kept=kept,
        before_swap=(lambda staging: indexed.append(search.index_site(staging, config=config)))
        if config.search else None, recorded=recorded, reserve=reserve)
    return result, indexed[0] if indexed else None


def _small_change(site: Site, changed: Sequence[Page], statics: dict[str, Path],
                  present: dict[str, output.FileIdentity]) -> bool:
    """Whether the files to write or remove are few enough to apply in place."""
    wanted = set(map(_OUTPUT, site.pages)).union(
        [relative for relative, _ in site.files], statics)
    changes = len(changed) + len(site.files) + len(present.keys() - wanted)
    return changes <= len(wanted) * _IN_PLACE_SHARE


def _refuse_collisions(site: Site, statics: dict[str, Path]) -> None:
    from builder.assemble import find_collisions

    collisions = find_collisions(site.pages, _claims(site, statics))
    if collisions:
        raise BuildError(f"{len(collisions)} output path(s) claimed twice; nothing was written",
                         collisions)


def _claims(site: Site, statics: dict[str, Path]) -> dict[str, str]:
    claims = {relative: f"static file {source}" for relative, source in statics.items()}
    claims.update({relative: "Gazette" for relative, _ in site.files})
    return claims


def _removed_html(site: Site, config: SiteConfig,
                  before: Mapping[int, tuple[Story, tuple[Diagnostic, ...]]]
                  ) -> dict[int, tuple[Story, tuple[Diagnostic, ...]]]:
    """What the sanitiser removes from each story shown whose body holds a ``<``
    (:func:`render.removed_html`), by the story object's id; taken from ``before`` for the
    very same story objects."""
    from builder import render
    from builder.assemble import shown_path

    found = {}
    for story in map(_STORY, site.entries):
        if not story.markup:  # a body without '<' has none
            continue
        known = before.get(id(story))
        if known is None or known[0] is not story:
            known = (story, tuple(render.removed_html(story, shown_path(story, config))))
        found[id(story)] = known
    return found


_STORY = operator.attrgetter("story")


def _warnings(site: Site, diagnostics: Sequence[Diagnostic],
              removed_html: Mapping[int, tuple[Story, tuple[Diagnostic, ...]]]
              ) -> tuple[Diagnostic, ...]:
    removed = chain.from_iterable(removed for _, removed in removed_html.values())
    found = {d for d in chain(diagnostics, site.diagnostics, removed) if not d.is_error}
    return tuple(sorted(found, key=by_place))


_Rendered = tuple[str, "bytes | output.Staged"]
"""A page rendered: its output path, and its bytes or, staged by the worker, its file."""


def _render(pages: Sequence[Page], config: SiteConfig, nav: tuple[Link, ...], context: bytes,
            workers: _Workers, progress: Progress | None, tree: output.StagingTree | None,
            fingerprinting: tuple[Fingerprinter, list[bytes]] | None = None
            ) -> Iterator[_Rendered]:
    """Each page's output path and bytes, in order, as they are rendered (lazily: nothing
    is rendered ahead of the consumer but the workers' few queued tasks); with ``tree``,
    each page is staged there by the process that rendered it, which then hands on only
    what it staged: file creation is spread over the workers, and the pages' bytes need
    not cross to this process (at 10,000 stories, the parent writing every page became
    the bottleneck once the workers reached the cheap list pages). ``context`` is the
    build's :func:`_context`, which covers the templates. With ``fingerprinting``, a
    fingerprinter and a list, the process that renders a page fingerprints it too, and
    each fingerprint is appended to the list as its page comes."""
    fingerprinter, fingerprints = fingerprinting or (None, None)
    for done, (relative, rendered, fingerprint) in enumerate(
            _map(_page_renderer, pages, workers, config, nav, context, tree, fingerprinter),
            start=1):
        if fingerprints is not None:
            fingerprints.append(fingerprint)
        if progress and (done % 100 == 0 or done == len(pages)):
            progress("render", done, len(pages))
        yield relative, rendered


def _page_renderer(config: SiteConfig, nav: tuple[Link, ...], context: bytes,
                   tree: output.StagingTree | None, fingerprinter: Fingerprinter | None
                   ) -> Callable[[Page], tuple[str, bytes | output.Staged, bytes]]:
    import jinja2

    from builder import render

    env = _environment(config, nav, context)
    fingerprint = fingerprinter.page if fingerprinter is not None else lambda page: b""

    def render_one(page: Page) -> tuple[str, bytes | output.Staged, bytes]:
        try:
            data = render.render_page(page, env)
        except jinja2.TemplateError as exc:  # a user's template is broken: say where
            where = f"{exc.filename}:{exc.lineno}: " if getattr(exc, "lineno", None) else ""
            raise BuildError(f"{where}cannot render {page.url} with template "
                             f"{page.template}: {exc.message or exc}") from None
        return (page.output, data if tree is None else output.stage_file(tree, page.output, data),
                fingerprint(page))

    return render_one


def _environment(config: SiteConfig, nav: tuple[Link, ...], context: bytes) -> jinja2.Environment:
    """The Jinja environment of a build: the last build's in this process (the preview
    server's) while the settings, navigation and ``context`` (which covers the templates'
    bytes and the code) are the same, its templates compiled already. Workers inherit it by
    fork or make their own; nothing is shared between processes."""
    global _last_environment
    made_for = (config, nav, context)
    if _last_environment is None or _last_environment[0] != made_for:
        from builder import render

        _last_environment = (made_for, render.environment(config, nav))
    return _last_environment[1]


_last_environment: tuple[tuple[SiteConfig, tuple[Link, ...], bytes], jinja2.Environment] | None = None


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


def _mapper(workers: _Workers) -> Callable[[Callable, Sequence], Iterator]:
    """``mapper(function, items)`` for assemble's costly steps: :func:`_map` over the
    workers, which inherit ``function`` (and all it refers to) by fork."""
    return lambda function, items: _map(lambda: function, items, workers)


def _spawner(workers: _Workers, items: int) -> Spawn:
    """``spawn(compute)`` for assemble: ``compute()`` in a forked process, which inherits it
    and all it refers to, while this one goes on; in this process when ``items`` are too few
    to pay for a process. Finding the wire copies of 10,000 stories (0.3-0.5 s) so overlaps
    grouping their terms and making their URLs (0.3 s): the assemble stage took 1.67-2.13 s
    against 1.87-2.46 s in this process alone (alternating cold builds)."""
    if workers.for_items(items) < 2:
        from builder.assemble import at_once

        return at_once

    def spawn(compute: Callable[[], object]) -> Callable[[], object]:
        global _spawned
        _spawned = compute
        try:  # the pool forks its process in submit: it inherits ``compute`` from here
            pool = _forking_pool(1)
            future = pool.submit(_run_spawned)
        finally:
            _spawned = None

        def result() -> object:
            try:
                return future.result()
            finally:
                pool.shutdown()
        return result
    return spawn  # type: ignore[return-value]


_spawned: Callable[[], object] | None = None
"""What the process being forked by :func:`_spawner` is to compute."""


def _run_spawned() -> object:
    assert _spawned is not None  # set by spawn before the pool forks
    return _spawned()


def _map(make_worker: Callable[..., Callable], items: Sequence, workers: _Workers,
         *arguments: object) -> Iterator:
    """Apply ``make_worker(*arguments)`` (a function of one item) to each of ``items``, in
    order, yielding one result per item as they come; in several processes when there is
    enough work to pay for them. ``make_worker`` runs once per process (compiling templates,
    say), never per task.

    Items go in tasks of :data:`_ITEMS_PER_TASK` (smaller at the end: :func:`_tasks`). This
    process is one of the processes: n - 1 forked workers run tasks queued a few ahead, and
    whenever the next results are not ready yet this process runs the next unqueued task
    itself instead of waiting. It also consumes every result (stores parses, writes pages),
    so it takes fewer tasks than a worker: with every other task its own, the worker sat
    idle for the second or so this process spent storing 10,000 parses. One worker fewer
    means one copy fewer of the parent's pages that a worker touches (reference counts
    write to them): a forked renderer copied 200 MB of the site at 10,000 stories. Results
    wait here at most a few tasks' worth, so a slow consumer (the writer) holds the workers
    back instead of letting their results pile up in this process."""
    processes = workers.for_items(len(items))
    own = make_worker(*arguments)
    if processes == 1:
        yield from map(own, items)
        return
    ahead = (processes - 1) * (1 + _TASKS_AHEAD_PER_WORKER)
    tasks = _tasks(len(items), processes + ahead)
    global _inherited
    _inherited = (make_worker, arguments, items)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(_SWITCH_SECONDS_WHILE_POOLED)
    try:
        with _forking_pool(processes - 1) as pool:
            queued: dict[int, Future] = {}  # by task number
            done_here: dict[int, list] = {}
            unassigned = 0  # tasks before it are queued, done here, or handed out
            try:
                for number in range(len(tasks)):
                    while len(queued) < ahead and unassigned < len(tasks):
                        queued[unassigned] = pool.submit(_run_task, tasks[unassigned])
                        unassigned += 1
                    results = done_here.pop(number, None)
                    if results is None:
                        future = queued.pop(number)
                        while (not future.done() and len(done_here) < ahead
                               and unassigned < len(tasks)):
                            start, end = tasks[unassigned]
                            done_here[unassigned] = list(map(own, items[start:end]))
                            unassigned += 1
                        results = future.result()
                    yield from results
            finally:  # stopped early (an error, the consumer gone): drop what has not started
                for future in queued.values():
                    future.cancel()
    finally:
        _inherited = None
        sys.setswitchinterval(switch_interval)


def _forking_pool(processes: int) -> ProcessPoolExecutor:
    """A pool of ``processes`` forked workers, which fork as the first task is submitted and
    so inherit what the caller set up for them; freed memory is handed back first."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _release_free_memory()
    return ProcessPoolExecutor(max_workers=processes,
                               mp_context=multiprocessing.get_context("fork"))


def _release_free_memory() -> None:
    """Hand the memory this process has freed back to the system before it forks: a forked
    worker starts with every resident page of its parent in its own RSS, and the C
    allocator keeps what Python frees (the read stage's pickles, among others) resident.
    Before the render workers of a 10,000-story build: 42 MB fewer resident in the parent,
    twice that fewer summed over the processes, in 5 ms. Only glibc has ``malloc_trim``."""
    import ctypes

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _tasks(count: int, shares: int) -> list[tuple[int, int]]:
    """Bounds of tasks covering ``count`` items: :data:`_ITEMS_PER_TASK` each, then smaller
    towards the end, each a ``shares``-th of what remains ("guided self-scheduling",
    Polychronopoulos & Kuck, 1987), so that when the last task is handed out the work
    still queued is small and no process waits long for the others to finish."""
    bounds = []
    start = 0
    while start < count:
        size = max(_LAST_ITEMS_PER_TASK, min(_ITEMS_PER_TASK, (count - start) // shares))
        bounds.append((start, min(start + size, count)))
        start += size
    return bounds


_inherited: tuple[Callable[..., Callable], tuple[object, ...], Sequence] | None = None
"""The work of the pool being started. Forked workers inherit it instead of receiving it
pickled: pickling every page's stories to the workers cost more than rendering them."""
_worker: Callable | None = None
"""In a worker process, ``make_worker(*arguments)`` of the inherited work, made on its first
task and kept for the rest (a worker process serves one pool, so one piece of work)."""


def _run_task(bounds: tuple[int, int]) -> list:
    """One task of the inherited work, as one list (results cross back pickled)."""
    global _worker
    assert _inherited is not None  # set by _map before the pool forks
    make_worker, arguments, items = _inherited
    if _worker is None:
        _worker = make_worker(*arguments)
    start, end = bounds
    return [_worker(item) for item in items[start:end]]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during a build. A build holds millions of objects
    and makes hundreds of thousands more, so Python runs full collections that walk them
    all: seven in a one-story edit of a 10,000-story archive, 1 s together. A build's values
    are trees without cycles, which reference counting frees anyway. Forked workers inherit
    the pause, so neither do they touch every inherited object (which would copy the
    parent's memory into theirs)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _timed(stage: str, timings: list[tuple[str, float]]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings.append((stage, time.perf_counter() - started))
