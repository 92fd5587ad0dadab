"""The build cache: a SQLite database in ``config.cache_path``, and files beside it, that
make rebuilds cheap.

It holds five things, all safe to lose (deleting the folder only makes the next build cold):

- **file keys**: for each story file, the identity (size, modification and change times,
  inode) it had when its bytes were last read, and the key those bytes gave, so an
  unchanged archive is recognised by ``stat`` alone, as git recognises an unchanged work
  tree. A file changed within :data:`RACY_SECONDS` of being read is not remembered: a
  second write in the same timestamp tick would otherwise go unseen.

- **parsed files**: what :func:`builder.ingest.parse_bytes` returned for a file, under a
  key that covers everything the parse depends on — the file's bytes and path, every
  setting parsing reads, the ingest code and the libraries it calls (:func:`parse_context`).
  A hit is therefore the parse's result by construction; nothing is ever "invalidated".
- **the last build** of each output directory: a digest of all its inputs, its summary,
  and for every file the fingerprint of what it was made from and the identity (size,
  mtime, inode) of the file written, so an unchanged page whose file is still there is
  kept instead of rendered, and a build whose inputs are all unchanged does nothing.
- **derived values**: results of costly pure computations over the whole archive (related
  coverage), under a digest of their inputs and code (:meth:`Cache.remembered`), so a
  correction that changes no story's tags does not recompute them.
- **the site model** a build made of each output directory (its parses, assembled site,
  fingerprints and digests), beside the database in a file of its own
  (:meth:`Cache.kept_model`), under the digest of the code that made it: the next build in
  a new process starts from it as the preview server's rebuilds start from the last one in
  memory.

Crash and concurrency safety come from SQLite itself: write-ahead logging, every write in
one ``BEGIN IMMEDIATE`` transaction, and a busy timeout so two builds sharing a cache wait
for each other instead of failing. A killed build leaves the last committed state. A kept
model is written whole to a file of its own, under a lock, and renamed into place. The
schema version lives in ``PRAGMA user_version``; a database of another version, or one
that is not a database at all, is replaced (and :attr:`Cache.notes` says so).

Values are pickled: the cache is private to the project, written and read only by Gazette.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import glob
import hashlib
import os
import pickle
import sqlite3
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from builder import __version__
from builder.config import SiteConfig
from builder.errors import Diagnostic
from builder.fingerprint import installed_version

__all__ = [
    "DATABASE_NAME", "PAGE_ONLY_SETTINGS", "SCHEMA_VERSION", "BuildRecord", "Cache", "LastBuild",
    "PublishedFile",
    "parse_context", "story_key",
]

SCHEMA_VERSION = 5
"""Bump whenever the tables below change shape; an older database is then replaced."""
DATABASE_NAME = "gazette.sqlite3"
_MODEL_FILES = "site-model-*.pickle"
"""The files beside the database holding the model a build kept for each output directory
(:meth:`Cache.keep_model`), ``*`` a digest of the directory's path."""
BUSY_TIMEOUT_SECONDS = 60.0
"""How long a build waits for another build's write transaction before giving up."""
T = TypeVar("T")
_MISSING = object()
_BATCH = 500
"""Keys per ``IN (...)`` query, well under SQLite's limit on bound parameters."""

PAGE_ONLY_SETTINGS = frozenset({
    "root", "title", "description", "base_url", "per_page", "permalink", "feed_size",
    "related_count", "duplicate_threshold", "news_sitemap_days", "archive_days", "cname",
    "search",
    "templates_dir", "static_dir", "output_dir", "cache_dir", "ignore",
})
"""Settings that ingest never reads (they shape pages, or which files are read, not how a
file is parsed), so changing them keeps parsed stories. Every other setting is part of
:func:`parse_context`; tests/test_cache.py checks ingest reads none of these."""

_PARSER_SOURCES = ("ingest", "model.py", "errors.py", "similarity.py", "fingerprint.py")
"""The code a cached parse depends on, relative to the ``builder`` package (stories' text
sketches for the duplicate finder and their fingerprint digests are cached with their
parse)."""
_PARSER_LIBRARIES = ("charset-normalizer", "python-frontmatter", "PyYAML", "numpy")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parsed (
    key    TEXT PRIMARY KEY,   -- story_key(): bytes, path and parse context
    result BLOB NOT NULL       -- pickled builder.ingest.FileResult
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS builds (
    site    TEXT PRIMARY KEY,  -- absolute output directory
    inputs  BLOB NOT NULL,     -- digest of everything the build read
    summary BLOB NOT NULL,     -- pickled summary of what it published
    tree    BLOB NOT NULL,     -- builder.output.tree_record() of the output it left
    reserve BLOB NOT NULL      -- and of the reserve (the site before), or empty
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS published (
    site        TEXT NOT NULL,    -- absolute output directory
    path        TEXT NOT NULL,    -- file relative to it
    fingerprint BLOB NOT NULL,    -- digest of everything the file was made from
    size        INTEGER NOT NULL, -- identity of the file as written, to notice it was changed
    mtime_ns    INTEGER NOT NULL,
    inode       INTEGER NOT NULL,
    PRIMARY KEY (site, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    path     TEXT PRIMARY KEY, -- story file, absolute
    context  TEXT NOT NULL,    -- parse_context() the key was taken under
    size     INTEGER NOT NULL, -- identity of the file when its bytes were read
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode    INTEGER NOT NULL,
    key      TEXT NOT NULL     -- story_key() of those bytes
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS derived (
    key   BLOB PRIMARY KEY,   -- digest of a pure computation's inputs and code
    value BLOB NOT NULL,      -- its pickled result
    used  INTEGER NOT NULL    -- order of last use, to keep only the newest
) WITHOUT ROWID;
"""
RACY_SECONDS = 3
"""A file modified this recently when read is read again next time, not trusted by its
identity: file systems stamp times in ticks (milliseconds on Linux, seconds elsewhere)."""
StatIdentity = tuple[int, int, int, int]
"""(size, mtime_ns, ctime_ns, inode): the change time cannot be set back by tools that
restore modification times, and an editor that replaces the file changes the inode."""
_DERIVED_KEPT = 8
"""Derived values kept: enough for a preview and a deploy build alternating on one cache."""


@dataclass(frozen=True, slots=True)
class PublishedFile:
    """One file of the last build of an output directory, and what it was made from."""

    fingerprint: bytes
    """Digest of the data the file shows, its template set and the settings (for a page)."""
    size: int
    mtime_ns: int
    inode: int

    @property
    def identity(self) -> tuple[int, int, int]:
        """(size, mtime_ns, inode), as :func:`builder.output.snapshot` gives them."""
        return (self.size, self.mtime_ns, self.inode)


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """What a build that changes nothing needs of the last one: one row, no file list."""

    inputs: bytes
    """Digest of everything that build read: stories, settings, templates, code."""
    summary: Any
    """What it reported (the pipeline's choice of value)."""
    tree: bytes
    """:func:`builder.output.tree_record` of the output directory as the build left it."""
    reserve: bytes = b""
    """The same of the reserve it left (``builder.output.write_site(reserve=)``), or empty."""


@dataclass(frozen=True, slots=True)
class LastBuild:
    """The record of the last build of one output directory."""

    inputs: bytes
    """Digest of everything that build read: stories, settings, templates, code."""
    summary: Any
    """What it reported (the pipeline's choice of value)."""
    files: dict[str, PublishedFile]
    """Every file it published, by path relative to the output directory."""

    def still_on_disk(self, present: Mapping[str, tuple[int, int, int]]) -> bool:
        """True if ``present`` (path → (size, mtime_ns, inode)) is exactly what this build
        left: the same files, none changed, none added."""
        return len(present) == len(self.files) and all(
            present.get(path) == f.identity for path, f in self.files.items())


def parse_context(config: SiteConfig) -> str:
    """Digest of everything besides a file's own bytes and path that parsing depends on."""
    digest = hashlib.sha256()
    for part in _PARSER_IDENTITY:
        digest.update(part.encode("utf-8") + b"\0")
    settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                if f.name not in PAGE_ONLY_SETTINGS}
    digest.update(repr(sorted(settings.items())).encode("utf-8"))
    return digest.hexdigest()


def story_key(context: str, relpath: str, data: bytes) -> str:
    """The cache key of one story file: its parse context, path under content/ and bytes.

    The path counts because it names the story's topic and id.
    """
    digest = hashlib.sha256(context.encode("ascii"))
    digest.update(b"\0" + relpath.encode("utf-8") + b"\0")
    digest.update(data)
    return digest.hexdigest()


def _parser_identity() -> Iterator[str]:
    """Gazette's version, Python's, the parsing libraries' and a hash of the parser's code,
    so a development edit to ingest invalidates as surely as a release does."""
    yield __version__
    yield sys.version
    for name in _PARSER_LIBRARIES:
        yield f"{name}=={installed_version(name)}"
    package = Path(__file__).resolve().parent
    code = hashlib.sha256()
    for source in _PARSER_SOURCES:
        found = sorted((package / source).rglob("*.py")) if (package / source).is_dir() \
            else [package / source]
        for path in found:
            code.update(path.relative_to(package).as_posix().encode() + b"\0")
            code.update(path.read_bytes())
    yield code.hexdigest()


_PARSER_IDENTITY = tuple(_parser_identity())
"""Taken once, as this module is imported, from the parser's source files: a long-lived
process (the preview server) keys its parses by the code it started with, even if the files
are edited while it runs. (It loads the parsers themselves at its first parse, moments
later: a no-op build never loads them.)"""


class Cache:
    """The cache database of one project, with an in-memory layer for a long-lived process
    (the preview server keeps one open across rebuilds, so warm rebuilds skip unpickling)."""

    def __init__(self, connection: sqlite3.Connection, location: str,
                 notes: tuple[Diagnostic, ...] = (), *, long_lived: bool = False):
        self._db = connection
        self._long_lived = long_lived
        """Whether parses, file keys and derived values stay in memory for the next build.
        One build has no use for them once read, and would hold them through rendering, in
        every worker's inherited memory (the parses' sketches alone: 100 MB at 100,000
        stories)."""
        self.location = location
        """The database file, or ``:memory:`` when the cache folder was unusable."""
        self.notes = notes
        """Warnings about the cache itself (replaced, unusable), for the build to report."""
        self._parsed: dict[str, Any] = {}
        self._builds: dict[str, LastBuild] = {}
        self._builds_version = -1
        """``PRAGMA data_version`` when ``_builds`` was last read or written: it changes
        when another connection commits."""
        self._derived: dict[bytes, Any] = {}
        self._files: tuple[str, dict[str, tuple[StatIdentity, str]]] | None = None
        """The records this object wrote: a long-lived cache reads them back from memory.
        (Were another process to rebuild the same folder, the files' identities on disk
        would no longer match the record, so nothing stale could be kept.)"""

    @classmethod
    def open(cls, folder: Path, *, long_lived: bool = False) -> Cache:
        """Open (creating if needed) the cache in ``folder``; ``long_lived`` for a process
        that builds again and again.

        A database of another schema version is emptied; a file that is not a database is
        replaced; a folder that cannot be written gives an in-memory cache. Each of these
        is a note, never an error: the cache only ever saves time.
        """
        path = Path(folder) / DATABASE_NAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _opening(path):
                connection, notes = _connect(str(path))
            return cls(connection, str(path), notes, long_lived=long_lived)
        except sqlite3.OperationalError as exc:  # cannot open or lock it: leave it be
            unusable: Exception = exc
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
            # A truncated copy or another program's file: it only ever saved time.
            note = _note(path, f"the build cache was unreadable ({exc}) and was replaced")
            try:
                with _opening(path):
                    _remove_database(path)
                    connection, notes = _connect(str(path))
                return cls(connection, str(path), (note, *notes), long_lived=long_lived)
            except (sqlite3.Error, OSError) as again:
                unusable = again
        except OSError as exc:
            unusable = exc
        connection, _ = _connect(":memory:")
        return cls(connection, ":memory:", (_note(
            path, f"cannot use the build cache ({unusable}); this build keeps none",
            "check that the cache folder (cache_dir in gazette.toml) is writable"),),
            long_lived=long_lived)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- parsed files ----------------------------------------------------------------------

    def parsed(self, keys: Collection[str]) -> dict[str, Any]:
        """The stored parse results among ``keys`` (missing keys are simply absent)."""
        found = {key: self._parsed[key] for key in keys if key in self._parsed}
        wanted = [key for key in keys if key not in found]
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start: start + _BATCH]
            rows = self._db.execute(
                f"SELECT key, result FROM parsed WHERE key IN ({','.join('?' * len(batch))})",
                batch)
            for key, blob in rows:
                try:
                    found[key] = pickle.loads(blob)
                except Exception:  # noqa: BLE001 - a damaged row is a miss; it is re-parsed
                    continue
        if self._long_lived:
            self._parsed.update(found)
        return found

    def store_parsed(self, results: Mapping[str, Any]) -> None:
        """Store new parse results, in one transaction."""
        if not results:
            return
        rows = [(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
                for key, value in results.items()]
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO parsed (key, result) VALUES (?, ?)",
                                 rows)
        if self._long_lived:
            self._parsed.update(results)

    def retain_parsed(self, keys: Collection[str]) -> None:
        """Forget parse results not among ``keys`` (the files of the build just done).

        The memory layer (``long_lived``) keeps exactly ``keys``. The database keeps
        everything until it holds more than twice as many results as the build used, so two
        projects' configs alternating on one cache (a preview and a deploy build) do not
        evict each other.
        """
        if self._parsed:
            self._parsed = {key: self._parsed[key] for key in keys if key in self._parsed}
        (stored,) = self._db.execute("SELECT count(*) FROM parsed").fetchone()
        if stored <= 2 * len(keys) + 100:
            return
        with self._transaction():
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM keep")
            self._db.executemany("INSERT OR IGNORE INTO keep VALUES (?)",
                                 ((key,) for key in keys))
            self._db.execute("DELETE FROM parsed WHERE key NOT IN (SELECT key FROM keep)")
            self._db.execute("DELETE FROM keep")

    # -- the last build --------------------------------------------------------------------

    def build_record(self, site: Path) -> BuildRecord | None:
        """The last build of the output directory ``site``, without its list of files."""
        row = self._db.execute("SELECT inputs, summary, tree, reserve FROM builds WHERE site = ?",
                               (_site_key(site),)).fetchone()
        if row is None:
            return None
        try:
            summary = pickle.loads(row[1])
        except Exception:  # noqa: BLE001 - a damaged record: as if there were none
            return None
        return BuildRecord(bytes(row[0]), summary, bytes(row[2]), bytes(row[3]))

    def last_build(self, site: Path) -> LastBuild | None:
        """What the last build of the output directory ``site`` read and published."""
        key = _site_key(site)
        if key in self._builds:
            return self._builds[key]
        built = self.build_record(site)
        if built is None:
            return None
        rows = self._db.execute(
            "SELECT path, fingerprint, size, mtime_ns, inode FROM published WHERE site = ?",
            (key,))
        record = LastBuild(built.inputs, built.summary,
                           {path: PublishedFile(bytes(fingerprint), size, mtime_ns, inode)
                            for path, fingerprint, size, mtime_ns, inode in rows})
        self._builds = {key: record}
        self._builds_version = self._data_version()
        return record

    def record_build(self, site: Path, inputs: bytes, summary: object,
                     files: Mapping[str, PublishedFile], tree: bytes = b"",
                     reserve: bytes = b"") -> None:
        """Replace the record of ``site``, in one transaction: a crash leaves the old
        record or the new one. Records of output directories that no longer exist (old
        preview folders) go too. ``tree`` is :func:`builder.output.tree_record` of the
        folder as the build left it (none: the next build walks it), ``reserve`` the same
        of the reserve it left (none: the next build walks that)."""
        key = _site_key(site)
        blob = pickle.dumps(summary, protocol=pickle.HIGHEST_PROTOCOL)
        with self._transaction():
            # The record this object read or wrote is still the stored one when no other
            # connection has written since: then only what differs is written, not all
            # of a big site's rows again.
            known = (self._builds.get(key) if self._data_version() == self._builds_version
                     else None)
            sites = [row[0] for row in self._db.execute("SELECT site FROM builds")]
            for other in sites:
                if other != key and not os.path.isdir(other):
                    self._db.execute("DELETE FROM builds WHERE site = ?", (other,))
                    self._db.execute("DELETE FROM published WHERE site = ?", (other,))
            if known is not None:
                stale = known.files.keys() - files.keys()
                fresh: Iterable[tuple[str, PublishedFile]] = [
                    (path, f) for path, f in files.items() if known.files.get(path) != f]
            else:
                self._db.execute("DELETE FROM published WHERE site = ?", (key,))
                stale, fresh = set(), files.items()
            self._write_record(key, inputs, blob, tree, reserve, stale, fresh)
        self._builds = {key: LastBuild(inputs, summary, dict(files))}
        self._builds_version = self._data_version()

    def record_changes(self, site: Path, inputs: bytes, summary: object,
                       changed: Mapping[str, PublishedFile], removed: Collection[str]) -> bool:
        """:meth:`record_build` for a build that knows what it changed (the preview
        server's): the last record's files, with ``changed`` put in and ``removed`` taken
        out, at the cost of that change instead of a comparison of every file. The output's
        tree goes unrecorded. False, recording nothing, when the stored record is not the
        one this object last read or wrote: then record the build in full."""
        key = _site_key(site)
        blob = pickle.dumps(summary, protocol=pickle.HIGHEST_PROTOCOL)
        with self._transaction():
            known = (self._builds.get(key) if self._data_version() == self._builds_version
                     else None)
            if known is None:
                return False
            files = {**known.files, **changed}
            for path in removed:
                files.pop(path, None)
            self._write_record(key, inputs, blob, b"", b"", removed, changed.items())
        self._builds = {key: LastBuild(inputs, summary, files)}
        self._builds_version = self._data_version()
        return True

    def _write_record(self, key: str, inputs: bytes, summary: bytes, tree: bytes, reserve: bytes,
                      stale: Iterable[str], fresh: Iterable[tuple[str, PublishedFile]]) -> None:
        """The rows of a build's record: its own, and its published files', ``stale`` ones
        deleted and ``fresh`` ones written (inside the caller's transaction)."""
        self._db.execute("INSERT OR REPLACE INTO builds (site, inputs, summary, tree, reserve) "
                         "VALUES (?, ?, ?, ?, ?)", (key, inputs, summary, tree, reserve))
        self._db.executemany("DELETE FROM published WHERE site = ? AND path = ?",
                             ((key, path) for path in stale))
        self._db.executemany(
            "INSERT OR REPLACE INTO published (site, path, fingerprint, size, mtime_ns, "
            "inode) VALUES (?, ?, ?, ?, ?, ?)",
            ((key, path, f.fingerprint, f.size, f.mtime_ns, f.inode) for path, f in fresh))

    def record_tree(self, site: Path, tree: bytes) -> None:
        """Replace the :func:`builder.output.tree_record` of the last build of ``site``
        (taken again once the whole output was found as that build left it)."""
        with self._transaction():
            self._db.execute("UPDATE builds SET tree = ? WHERE site = ?", (tree, _site_key(site)))

    def forget_build(self, site: Path) -> None:
        """Drop the record of ``site``: its next build starts from what is on disk."""
        key = _site_key(site)
        self._builds.pop(key, None)
        with self._transaction():
            self._db.execute("DELETE FROM builds WHERE site = ?", (key,))
            self._db.execute("DELETE FROM published WHERE site = ?", (key,))

    # -- file keys -------------------------------------------------------------------------

    def file_keys(self, context: str) -> Mapping[str, tuple[StatIdentity, str]]:
        """Absolute path → (identity, key) of every story file remembered under ``context``."""
        return MappingProxyType(self._file_keys(context))

    def _file_keys(self, context: str) -> dict[str, tuple[StatIdentity, str]]:
        """The memory layer of the ``files`` table for ``context``, read once."""
        if self._files is None or self._files[0] != context:
            rows = self._db.execute("SELECT path, size, mtime_ns, ctime_ns, inode, key "
                                    "FROM files WHERE context = ?", (context,))
            self._files = (context, {path: ((size, mtime_ns, ctime_ns, inode), key)
                                     for path, size, mtime_ns, ctime_ns, inode, key in rows})
        return self._files[1]

    def store_file_keys(self, context: str, read: Mapping[str, tuple[StatIdentity, str]],
                        gone: Collection[str], now_ns: int) -> None:
        """Remember the files just ``read`` (path → identity before reading, key), except
        those changed within :data:`RACY_SECONDS` of ``now_ns``; forget the files ``gone``
        and keys of another context."""
        racy = now_ns - RACY_SECONDS * 1_000_000_000
        trusted = {path: entry for path, entry in read.items()
                   if entry[0][1] < racy and entry[0][2] < racy}
        known = self._file_keys(context)
        gone = [path for path in gone if path in known]
        if trusted or gone:
            with self._transaction():
                self._db.execute("DELETE FROM files WHERE context != ?", (context,))
                self._db.executemany("DELETE FROM files WHERE path = ?",
                                     ((path,) for path in gone))
                self._db.executemany(
                    "INSERT OR REPLACE INTO files (path, context, size, mtime_ns, ctime_ns, "
                    "inode, key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ((path, context, *identity, key) for path, (identity, key) in trusted.items()))
        if not self._long_lived:  # read once per build
            self._files = None
            return
        for path in gone:
            del known[path]
        known.update(trusted)

    # -- derived values --------------------------------------------------------------------

    def remembered(self, key: bytes, compute: Callable[[], T]) -> T:
        """``compute()``, or what it returned before under ``key``: the digest of
        everything the computation reads, its code included (the caller's promise)."""
        if key in self._derived:
            return self._derived[key]
        row = self._db.execute("SELECT value FROM derived WHERE key = ?", (key,)).fetchone()
        value: Any = _MISSING
        if row is not None:
            try:
                value = pickle.loads(row[0])
            except Exception:  # noqa: BLE001 - a damaged row is a miss: computed again
                value = _MISSING
        stored = value is not _MISSING
        if not stored:
            value = compute()
        with self._transaction():
            (newest,) = self._db.execute("SELECT coalesce(max(used), 0) FROM derived").fetchone()
            if stored:
                self._db.execute("UPDATE derived SET used = ? WHERE key = ?", (newest + 1, key))
            else:
                self._db.execute("INSERT OR REPLACE INTO derived (key, value, used) "
                                 "VALUES (?, ?, ?)",
                                 (key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
                                  newest + 1))
            self._db.execute("DELETE FROM derived WHERE used <= ?", (newest + 1 - _DERIVED_KEPT,))
        if not self._long_lived:
            return value
        self._derived[key] = value  # the newest kept in memory
        while len(self._derived) > _DERIVED_KEPT:
            del self._derived[next(iter(self._derived))]
        return value

    # -- the site model --------------------------------------------------------------------

    def kept_model(self, site: Path, code: bytes) -> Any:
        """The value :meth:`keep_model` last kept for the output directory ``site`` under
        ``code`` (the digest of the code that made it: another version's objects may not
        even unpickle), else None."""
        path = self._model_path(site)
        if path is None:
            return None
        try:
            with open(path, "rb") as stream:
                if pickle.load(stream) != (code, _site_key(site)):
                    return None
                return pickle.load(stream)
        except Exception:  # noqa: BLE001 - none kept, damaged, or another version's
            return None

    def keep_model(self, site: Path, code: bytes, model: object) -> None:
        """Keep ``model`` (pickled) for :meth:`kept_model`, replacing the last one of
        ``site`` whole: a process reading it meanwhile, or killed while it is written, sees
        one or the other. Not kept when it cannot be (a full disk): it only ever saves
        time. The models of output directories that no longer exist go."""
        path = self._model_path(site)
        if path is None:
            return
        partial = f"{path}.partial"
        try:
            with open(f"{path}.lock", "a") as lock:  # two writers would share the partial
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    with open(partial, "wb") as stream:
                        pickle.dump((code, _site_key(site)), stream,
                                    protocol=pickle.HIGHEST_PROTOCOL)
                        pickle.dump(model, stream, protocol=pickle.HIGHEST_PROTOCOL)
                    os.replace(partial, path)
                finally:
                    with contextlib.suppress(OSError):
                        os.unlink(partial)
        except Exception:  # noqa: BLE001 - not kept: the next build reads and assembles
            return
        for other in glob.glob(os.path.join(os.path.dirname(path), _MODEL_FILES)):
            if other != path and not os.path.isdir(_model_site(other)):
                for gone in (other, f"{other}.lock"):
                    with contextlib.suppress(OSError):
                        os.unlink(gone)

    def forget_model(self, site: Path) -> None:
        """Remove the model kept for ``site``, if any."""
        path = self._model_path(site)
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _model_path(self, site: Path) -> str | None:
        if self.location == ":memory:":
            return None
        name = hashlib.sha256(_site_key(site).encode()).hexdigest()[:16]
        return os.path.join(os.path.dirname(self.location), _MODEL_FILES.replace("*", name))

    # -- plumbing --------------------------------------------------------------------------

    def _data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


@dataclass(frozen=True, slots=True)
class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception.

    IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout
    rather than one failing with "database is locked" when it upgrades a read lock.
    """

    db: sqlite3.Connection

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


@contextlib.contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Processes opening one cache take turns (a lock file beside the database): two that
    switch a new database to write-ahead logging at once make one fail with "database is
    locked" without waiting, and one could take the other's half-made file for a damaged
    one and replace it."""
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _connect(location: str) -> tuple[sqlite3.Connection, tuple[Diagnostic, ...]]:
    """Open ``location`` in WAL mode with the current schema; a database of another schema
    version is emptied first (its contents are only a cache)."""
    db = sqlite3.connect(location, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                         check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL never corrupts the database; a power cut can lose
        # the last transactions, which for a cache only means re-parsing.
        db.execute("PRAGMA synchronous=NORMAL")
        notes: tuple[Diagnostic, ...] = ()
        # Only a new or outdated database needs the write lock; opening a current one must
        # not wait for another build's write transaction.
        if db.execute("PRAGMA user_version").fetchone() != (SCHEMA_VERSION,):
            with _Transaction(db):
                notes = _create_schema(db, location)
    except BaseException:
        db.close()
        raise
    return db, notes


def _create_schema(db: sqlite3.Connection, location: str) -> tuple[Diagnostic, ...]:
    """Create the tables, dropping those of another schema version first."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:  # another process created it while this one waited
        return ()
    notes: tuple[Diagnostic, ...] = ()
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if tables:
        for table in tables:
            db.execute(f'DROP TABLE "{table}"')
        notes = (_note(Path(location), f"the build cache had schema {version}, not "
                       f"{SCHEMA_VERSION} (another Gazette version made it); it was emptied, "
                       f"so this build parses every story", hint=""),)
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return notes


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def _model_site(path: str) -> str:
    """The output directory a kept model is of ('' when it cannot be read)."""
    try:
        with open(path, "rb") as stream:
            return str(pickle.load(stream)[1])
    except Exception:  # noqa: BLE001 - damaged, or being replaced: as if of none
        return ""


def _site_key(site: Path) -> str:
    return os.path.abspath(site)


def _note(path: Path, message: str, hint: str = "delete the cache folder if this repeats"
          ) -> Diagnostic:
    return Diagnostic(path=str(path), line=None, message=message, hint=hint, severity="warning")
