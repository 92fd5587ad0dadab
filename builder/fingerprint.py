"""Fingerprints: short digests of exactly what an output file is made from.

A page's bytes are a pure function of the page (its URL, template name and the frozen data
it shows), the settings and navigation the templates see, the template files, and the
code and libraries that render. :class:`Fingerprinter` digests all of that, so two builds
that give a page the same fingerprint give it the same bytes; an incremental build
re-renders exactly the pages whose fingerprint changed. No dependency is ever tracked:
a tag page's fingerprint covers every entry it lists, so it changes when any of them does.

Nothing here reads the clock or depends on the process: digests are equal across runs and
across worker processes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from builder import __version__

__all__ = ["DIGEST_SIZE", "Fingerprinter", "code_identity", "folder_digest"]

DIGEST_SIZE = 16
"""Bytes per digest: 128 bits make an accidental collision among a site's pages
(~10^5 of them) vanishingly unlikely."""

_INLINE_FIELDS = 2
"""Records with at most this many fields (links: a label and a URL) are written into the
digest of whatever holds them; larger ones (stories, entries, terms) are digested once
and remembered, since each appears on many pages."""

_UNSEEN = object()


_RENDER_LIBRARIES = ("jinja2", "MarkupSafe", "cmarkgfm", "nh3", "Pygments",
                     "charset-normalizer", "python-frontmatter", "PyYAML")


def _new() -> Any:
    return hashlib.blake2b(digest_size=DIGEST_SIZE)


def code_identity() -> bytes:
    """Digest of every module of Gazette, its version, Python's and the libraries' versions:
    whatever code turns inputs into bytes. A development edit changes it like a release.

    Taken once, as this module is imported (the pipeline imports the renderer first): the
    code a build renders with is the code it fingerprints, even if the files are edited
    while a long-lived process (the preview server) runs.
    """
    return _CODE_IDENTITY


def _code_digest() -> bytes:
    digest = _new()
    digest.update(f"{__version__}\0{sys.version}\0".encode())
    for name in _RENDER_LIBRARIES:
        try:
            digest.update(f"{name}=={importlib.metadata.version(name)}\0".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name} absent\0".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.digest()


def folder_digest(folders: Iterable[Path]) -> bytes:
    """Digest of every file (name and bytes) under each of ``folders``, in order; a missing
    folder counts as empty. For template and static folders, which are small."""
    digest = _new()
    for number, folder in enumerate(folders):
        digest.update(f"folder {number}\0".encode())
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
                digest.update(hashlib.blake2b(path.read_bytes(), digest_size=DIGEST_SIZE)
                              .digest())
    return digest.digest()


class Fingerprinter:
    """Digests of pages (or any frozen value) within one build.

    ``context`` is mixed into every page fingerprint: the digest of the settings,
    navigation, templates and code. Values reached from many pages (a story listed on
    its tag pages, a term on the index of terms) are digested once: the digest of each
    object is remembered, with the object itself so its ``id`` cannot be reused while
    this fingerprinter lives. Use one per build.
    """

    def __init__(self, context: bytes):
        self._context = context
        self._memo: dict[int, tuple[object, bytes]] = {}
        self._records: dict[type, tuple[bytes, tuple[str, ...]] | None] = {}
        """Name and field names of each dataclass type met (None: not a dataclass)."""

    def page(self, page: object) -> bytes:
        """The fingerprint of one page: its every field, and the context."""
        digest = _new()
        digest.update(self._context)
        digest.update(self.of(page))
        return digest.digest()

    def of(self, value: object) -> bytes:
        """The digest of ``value``: equal values (compared field by field, including fields
        excluded from ``==``) have equal digests, different values different ones."""
        digest = _new()
        self._feed(digest, value)
        return digest.digest()

    def _feed(self, digest: Any, value: object) -> None:
        """Write an unambiguous encoding of ``value`` into ``digest``: scalars and sequences
        inline, each frozen record (a dataclass: story, entry, link, term) as its own
        digest, remembered, since the same records appear on many pages."""
        kind = type(value)
        if kind is str:
            data = value.encode("utf-8", "surrogatepass")  # type: ignore[union-attr]
            digest.update(b"s%d:" % len(data) + data)
            return
        record = self._records.get(kind, _UNSEEN)
        if record is _UNSEEN:
            record = self._records[kind] = (
                (f"{kind.__module__}.{kind.__qualname__}".encode(),
                 tuple(f.name for f in dataclasses.fields(kind)))  # type: ignore[arg-type]
                if dataclasses.is_dataclass(kind) else None)
        if record is not None:
            tag, names = record
            if len(names) <= _INLINE_FIELDS:  # a link: cheaper to write out than to remember
                digest.update(b"i" + tag + b":")
                for name in names:
                    self._feed(digest, getattr(value, name))
            else:
                digest.update(b"r" + self._record(value, tag, names))
        elif value is None or kind in (bool, int, float):
            digest.update(f"{kind.__name__}:{value!r};".encode())
        elif kind in (tuple, list):
            tag = b"t" if kind is tuple else b"l"  # a template can tell them apart
            digest.update(b"%s%d:" % (tag, len(value)))  # type: ignore[arg-type]
            for item in value:  # type: ignore[attr-defined]
                self._feed(digest, item)
        elif isinstance(value, Mapping):
            # Insertion order counts: a template iterating a mapping shows it in that order.
            digest.update(b"m%d:" % len(value))
            for key, item in value.items():
                self._feed(digest, key)
                self._feed(digest, item)
        elif isinstance(value, str | tuple | list):  # subclasses: named tuples, str enums
            self._feed(digest, kind.__qualname__)
            self._feed(digest, kind.__base__(value))  # type: ignore[call-arg]
        elif isinstance(value, bytes):
            digest.update(b"b%d:" % len(value) + value)
        elif isinstance(value, frozenset | set):
            digest.update(b"f%d:" % len(value))
            for item in sorted(self.of(item) for item in value):
                digest.update(item)
        elif isinstance(value, Path):
            self._feed(digest, f"path:{value}")
        elif isinstance(value, dt.date | dt.time | dt.timedelta | dt.tzinfo):
            # repr names the type, every field and the time zone (``tzoffset(None, 3600)``,
            # ``zoneinfo.ZoneInfo(key='Asia/Baku')``); equal values have equal reprs.
            self._feed(digest, f"time:{value!r}")
        else:
            # A page holding something new: refuse rather than fingerprint it wrongly.
            raise TypeError(f"cannot fingerprint a {kind.__qualname__}; teach "
                            f"builder.fingerprint.Fingerprinter about it")

    def _record(self, value: object, tag: bytes, names: tuple[str, ...]) -> bytes:
        remembered = self._memo.get(id(value))
        if remembered is not None:
            return remembered[1]
        digest = _new()
        digest.update(tag + b"\0")
        for name in names:
            digest.update(name.encode() + b"=")
            self._feed(digest, getattr(value, name))
        result = digest.digest()
        self._memo[id(value)] = (value, result)
        return result


_CODE_IDENTITY = _code_digest()
