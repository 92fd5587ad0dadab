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
import functools
import hashlib
import operator
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from pathlib import Path
from typing import Any

from builder import __version__

__all__ = ["DIGEST_SIZE", "Digests", "Fingerprinter", "code_identity", "folder_digest", "installed_version",
           "RecordDigester"]

DIGEST_SIZE = 16
"""Bytes per digest: 128 bits make an accidental collision among a site's pages
(~10^5 of them) vanishingly unlikely."""

_INLINE_FIELDS = 3
"""Records with at most this many fields (links: a label and a URL; a page's pagination)
are written into the digest of whatever holds them; larger ones (stories, entries, terms)
are digested once and remembered, since each appears on many pages."""

_UNSEEN = object()


_RENDER_LIBRARIES = ("jinja2", "MarkupSafe", "cmarkgfm", "nh3", "Pygments",
                     "charset-normalizer", "python-frontmatter", "PyYAML")


def _new() -> Any:
    return hashlib.blake2b(digest_size=DIGEST_SIZE)


def code_identity() -> bytes:
    """Digest of every module of Gazette, its version, Python's and the libraries' versions:
    whatever code turns inputs into bytes. A development edit changes it like a release.

    Taken once, as this module is imported, from the source files: a long-lived process
    (the preview server) fingerprints by the code it started with, even if the files are
    edited while it runs.
    """
    return _CODE_IDENTITY


def _code_digest() -> bytes:
    digest = _new()
    digest.update(f"{__version__}\0{sys.version}\0".encode())
    for name in _RENDER_LIBRARIES:
        digest.update(f"{name}=={installed_version(name)}\0".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.digest()


def installed_version(distribution: str) -> str:
    """The installed version of ``distribution``, or 'absent': from the name of its
    ``.dist-info`` (or ``.egg-info``) folder on ``sys.path`` (``pyyaml-6.0.4.dist-info``), the
    first found as for imports, like :func:`importlib.metadata.version` but without the 30 ms
    of imports that costs on every run (a build that changes nothing takes half a second).
    A distribution found under no such name is asked of importlib.metadata after all."""
    found = _installed_versions().get(_normalised(distribution))
    if found is not None:
        return found
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


@functools.lru_cache(maxsize=1)
def _installed_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            stem, dot, kind = name.rpartition(".")
            if dot and kind in ("dist-info", "egg-info"):
                # name-version.dist-info, name-version[-pyX.Y].egg-info
                project, _, version = stem.partition("-")
                if version:
                    found.setdefault(_normalised(project), version.split("-py")[0])
    return found


def _normalised(distribution: str) -> str:
    """A distribution's name as packaging compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


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


@dataclasses.dataclass(frozen=True, slots=True)
class Digests:
    """Digests of records by the record's id, with the records themselves: they are kept
    alive, so while these digests are in use no other value can take one of their ids.
    What a fingerprinter remembers, handed to the next (``Fingerprinter(known=)``)."""

    memo: Mapping[int, bytes]
    records: Mapping[int, object]

    @classmethod
    def of(cls, pairs: Iterable[tuple[object, bytes]]) -> Digests:
        """The digests of records given as ``(record, digest)``."""
        memo: dict[int, bytes] = {}
        records: dict[int, object] = {}
        for record, digest in pairs:
            memo[id(record)] = digest
            records[id(record)] = record
        return cls(memo, records)

    def changed(self, gone: Iterable[object], new: Iterable[tuple[object, bytes]]) -> Digests:
        """These digests without the records ``gone`` and with the ``new`` ones
        (``(record, digest)``), copied at C speed."""
        memo, records = dict(self.memo), dict(self.records)
        for record in gone:
            del memo[id(record)], records[id(record)]
        for record, digest in new:
            memo[id(record)], records[id(record)] = digest, record
        return Digests(memo, records)

    def __len__(self) -> int:
        return len(self.memo)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled as pairs: the records unpickle as new objects, under new ids.
        return Digests.of, ([(self.records[key], digest) for key, digest in self.memo.items()],)


class Fingerprinter:
    """Digests of pages (or any frozen value) within one build.

    ``context`` is mixed into every page fingerprint: the digest of the settings,
    navigation, templates and code. Values reached from many pages (a story listed on
    its tag pages, a term on the index of terms) are digested once: the digest of each
    object is remembered, with the object itself so its ``id`` cannot be reused while
    this fingerprinter lives. Use one per build.
    """

    def __init__(self, context: bytes, known: Iterable[Digests] = ()):
        """``known``: digests an earlier fingerprinter made (:meth:`digests`), or a parse
        (:class:`RecordDigester`). A record's digest does not depend on the context, only on
        the record, so they are this one's from the start."""
        self._context = b"c%d:" % len(context) + bytes(context)
        self._memo: dict[int, bytes] = {}
        self._records: dict[int, object] = {}  # what the memo's ids name, so none is reused
        for digests in known:  # at C speed: a preview build starts from 30,000 of them
            self._memo.update(digests.memo)
            self._records.update(digests.records)
        self._encode, self._fields = _encoder(self._memo, self._records)

    def digests(self) -> Digests:
        """Every digest this fingerprinter made or was given, for the next build's
        (``known``): a long-lived process (the preview server) hands that build the very
        same story objects for the files that did not change, and digesting their texts
        again is most of fingerprinting a site. Not a copy: hand it on once done."""
        return Digests(self._memo, self._records)

    def known_digests(self, values: Iterable[object]) -> Digests:
        """:meth:`digests` of those of ``values`` it met alone."""
        return Digests.of((value, self._memo[id(value)]) for value in values
                          if id(value) in self._memo)

    def page(self, page: object) -> bytes:
        """The fingerprint of one page: its every field, and the context. A page is seen
        once, so its own digest is not remembered (the records it shows are)."""
        fields = self._fields(page)
        data = b"p" + fields if fields is not None else b"v" + self._encode(page)
        return _sha256(self._context + data).digest()[:DIGEST_SIZE]

    def of(self, value: object) -> bytes:
        """The digest of ``value``: equal values (compared field by field, including fields
        excluded from ``==``) have equal digests, different values different ones."""
        return _sha256(self._encode(value)).digest()[:DIGEST_SIZE]


class RecordDigester:
    """``digester(record)``: what a :class:`Fingerprinter` remembers of a record it meets
    (a dataclass of more than ``_INLINE_FIELDS`` fields, such as a story), made ahead of
    it: where the story is parsed, in a worker, once per file, and handed to the build's
    fingerprinter through ``known``.

    One digester serves record after record, remembering nothing of one for the next. An
    encoder is a knot of closures, which only the cyclic collector frees: one made per
    story was kept, with the story, until the build ended (builds pause the collector),
    22 KB a story in every process that parses."""

    def __init__(self) -> None:
        self._memo: dict[int, bytes] = {}
        self._alive: dict[int, object] = {}
        self._texts: dict[str, bytes] = {}
        self._encode, _ = _encoder(self._memo, self._alive, self._texts)

    def __call__(self, record: object) -> bytes:
        try:
            self._encode(record)
            if id(record) not in self._memo:
                raise TypeError(f"a {type(record).__qualname__} is not a record a "
                                f"fingerprinter remembers")
            return self._memo[id(record)]
        finally:
            self._memo.clear()
            self._alive.clear()
            self._texts.clear()


_sha256 = hashlib.sha256
"""The digest of values: SHA-256 cut to :data:`DIGEST_SIZE`, as strong against collisions
as BLAKE2b of that size and, on processors with SHA instructions, twice as fast over
the long values (story bodies, packed) that most of a site's bytes are."""

_SHORT = 512
"""Strings of at most this many bytes (names, URLs, labels: met on page after page) keep
their encoding (up to :data:`_KEPT` of them); longer ones (summaries) are in records, which
are encoded once anyway."""

_KEPT = 1 << 16
"""Texts (and links) whose encodings a fingerprinter keeps at most: those met most are a
site's term names and URLs, a few thousand; the rest are each story's links, met on a
handful of pages. When full, all are forgotten and the next ones kept. Unbounded, they
grew with the site: 8 MB of texts and 3 MB of links in the build's own process as it
rendered its share of 10,000 stories (tracemalloc), and as much again in the worker's."""

_TEXT_HEADS = [b"s%d:" % size for size in range(_SHORT + 1)]
"""The start of a short text's encoding, by its size: formatting it anew costs more than
the rest of encoding a text met once (a page's URL)."""

_TIMES = (dt.date, dt.time, dt.timedelta, dt.tzinfo)


def _encoder(memo: dict[int, bytes], alive: dict[int, object],
             texts: dict[str, bytes] | None = None
             ) -> tuple[Callable[[object], bytes], Callable[[object], bytes | None]]:
    """``encode(value)``, an unambiguous encoding of ``value``, and ``fields(value)``, the
    encoding of a record's type and fields (None for a value that is no record), sharing
    what they remember: ``memo`` (the digest of each record met, by id), ``alive`` (those
    records, so an id in ``memo`` is not reused while they live) and ``texts`` (the
    encoding of short texts met, up to :data:`_KEPT`).

    The encoding is prefix-free: a value's bytes start with a letter naming its kind and
    show where they end (a length or count, a fixed size, or a terminator), so a stream of
    them reads back one way only. ``s<len>:<utf-8>`` text, ``n`` None, ``T``/``F`` bools,
    ``d<int>;``, ``g<repr>;`` floats, ``t<n>:``/``l<n>:`` tuples/lists and ``m<n>:``
    mappings (key, value, ...; in order) followed by their items, ``b<len>:`` bytes,
    ``f<n>:`` sets followed by their items' sorted digests, ``x`` a subclass of text or a
    sequence (its type's name, then the plain value), ``p`` a path and ``z`` a date, time
    or zone (then its text). A record (dataclass) is ``<module.qualname>\0<field,...>\0``
    and its fields in order: ``i`` and that for a small record (a link), ``r`` and the
    remembered digest of that for a larger one.

    The common kinds (text, remembered records) are handled inline in the loops over a
    sequence's items and a record's fields: a page shows thousands of them.
    """
    texts = {} if texts is None else texts
    layouts: dict[type, tuple[bytes, Callable[[Any], tuple[Any, ...]], int] | None] = {}
    handlers: dict[type, Callable[[Any], bytes]] = {}

    # One expression, written out in each loop below (a call per value is what made this
    # slow), encodes a value: a text by its remembered encoding, anything else by the memo
    # (a record met before: the memo keeps it alive, so an id found there is that very
    # object), else by the handler of its exact type. Every encoding is a non-empty bytes,
    # so ``found or compute`` means ``found if there, else compute``.
    def text(value: str) -> bytes:  # a text not yet remembered
        data = value.encode("utf-8", "surrogatepass")
        size = len(data)
        if size <= _SHORT:
            if len(texts) >= _KEPT:
                texts.clear()
            encoded = texts[value] = _TEXT_HEADS[size] + data
            return encoded
        return b"s%d:" % size + data

    def text_once(value: str) -> bytes:  # the same encoding, not remembered
        data = value.encode("utf-8", "surrogatepass")
        return b"s%d:" % len(data) + data

    def handler(kind: type) -> Callable[[Any], bytes]:
        found = handlers[kind] = handler_for(kind)
        return found

    def encode(v: object) -> bytes:
        return (texts.get(v) or text(v) if type(v) is str  # type: ignore[arg-type]
                else memo.get(id(v)) or (handlers.get(type(v)) or handler(type(v)))(v))

    def layout(kind: type) -> tuple[bytes, Callable[[Any], tuple[Any, ...]], int] | None:
        found = layouts.get(kind, _UNSEEN)
        if found is _UNSEEN:
            found = None
            if dataclasses.is_dataclass(kind):
                names = tuple(f.name for f in dataclasses.fields(kind))
                header = (f"{kind.__module__}.{kind.__qualname__}\0".encode()
                          + ",".join(names).encode() + b"\0")
                if len(names) > 1:
                    getter = operator.attrgetter(*names)
                elif names:
                    one = operator.attrgetter(names[0])
                    getter = lambda value: (one(value),)  # noqa: E731
                else:
                    getter = lambda value: ()  # noqa: E731
                found = (header, getter, len(names))
            layouts[kind] = found
        return found  # type: ignore[return-value]

    def fields(value: object) -> bytes | None:
        # A page's own texts (its URL, title, description) are met once: remembering them
        # held 3 MB of the build's own process as it rendered its share of 10,000 stories.
        found = layout(type(value))
        if found is None:
            return None
        header, getter, _ = found
        return header + b"".join([
            texts.get(v) or text_once(v) if type(v) is str  # type: ignore[arg-type]
            else memo.get(id(v)) or (handlers.get(type(v)) or handler(type(v)))(v)
            for v in getter(value)])

    def inline(kind: type) -> Callable[[Any], bytes]:
        header, getter, size = layouts[kind]  # type: ignore[misc]
        header = b"i" + header
        if size == 2:  # links: written out on every page that shows them, so kept short
            pairs: dict[tuple[str, str], bytes] = {}  # of text only: equal means identical

            def two(value: object) -> bytes:
                a, b = pair = getter(value)
                if type(a) is str and type(b) is str:
                    found = pairs.get(pair)
                    if found is None:
                        if len(pairs) >= _KEPT:
                            pairs.clear()
                        found = pairs[pair] = b"".join(
                            (header, texts.get(a) or text(a), texts.get(b) or text(b)))
                    return found
                return b"".join((
                    header,
                    texts.get(a) or text(a) if type(a) is str
                    else memo.get(id(a)) or (handlers.get(type(a)) or handler(type(a)))(a),
                    texts.get(b) or text(b) if type(b) is str
                    else memo.get(id(b)) or (handlers.get(type(b)) or handler(type(b)))(b)))
            return two
        return lambda value: header + b"".join([
            texts.get(v) or text(v) if type(v) is str  # type: ignore[arg-type]
            else memo.get(id(v)) or (handlers.get(type(v)) or handler(type(v)))(v)
            for v in getter(value)])

    def record(kind: type) -> Callable[[Any], bytes]:
        header, getter, _ = layouts[kind]  # type: ignore[misc]

        def remembered(value: object) -> bytes:
            # Reached only on a first meeting: callers look in memo first.
            digest = _sha256(header)
            digest.update(b"".join([
                texts.get(v) or text(v) if type(v) is str  # type: ignore[arg-type]
                else memo.get(id(v)) or (handlers.get(type(v)) or handler(type(v)))(v)
                for v in getter(value)]))
            encoded = memo[id(value)] = b"r" + digest.digest()[:DIGEST_SIZE]
            alive[id(value)] = value
            return encoded
        return remembered

    def handler_for(kind: type) -> Callable[[Any], bytes]:
        found = layout(kind)
        if found is not None:
            return inline(kind) if found[2] <= _INLINE_FIELDS else record(kind)
        if kind is type(None):
            return lambda value: b"n"
        if kind is bool:
            return lambda value: b"T" if value else b"F"
        if kind is int:
            return lambda value: b"d%d;" % value
        if kind is float:
            return lambda value: b"g" + repr(value).encode() + b";"
        if kind is tuple:
            return lambda value: b"t%d:" % len(value) + b"".join([
                texts.get(v) or text(v) if type(v) is str  # type: ignore[arg-type]
                else memo.get(id(v)) or (handlers.get(type(v)) or handler(type(v)))(v)
                for v in value])
        if kind is list:
            return lambda value: b"l%d:" % len(value) + b"".join([
                texts.get(v) or text(v) if type(v) is str  # type: ignore[arg-type]
                else memo.get(id(v)) or (handlers.get(type(v)) or handler(type(v)))(v)
                for v in value])
        if issubclass(kind, Mapping):
            # Insertion order counts: a template iterating a mapping shows it in that order.
            return lambda value: b"m%d:" % len(value) + b"".join([
                texts.get(v) or text(v) if type(v) is str  # type: ignore[arg-type]
                else memo.get(id(v)) or (handlers.get(type(v)) or handler(type(v)))(v)
                for v in chain.from_iterable(value.items())])
        for base in (str, tuple, list):  # subclasses: named tuples, str enums
            if issubclass(kind, base):
                name = text(f"{kind.__module__}.{kind.__qualname__}")
                plain = str.__str__ if base is str else base
                return lambda value: b"x" + name + encode(plain(value))
        if issubclass(kind, bytes):
            return lambda value: b"b%d:" % len(value) + bytes(value)
        if issubclass(kind, frozenset | set):
            return lambda value: b"f%d:" % len(value) + b"".join(sorted(
                _sha256(encode(item)).digest()[:DIGEST_SIZE] for item in value))
        if issubclass(kind, Path):
            return lambda value: b"p" + encode(str(value))
        if issubclass(kind, _TIMES):
            # repr names the type, every field and the time zone (``tzoffset(None, 3600)``,
            # ``zoneinfo.ZoneInfo(key='Asia/Baku')``); equal values have equal reprs.
            return lambda value: b"z" + encode(repr(value))
        # A page holding something new: refuse rather than fingerprint it wrongly.
        raise TypeError(f"cannot fingerprint a {kind.__qualname__}; teach "
                        f"builder.fingerprint.Fingerprinter about it")

    return encode, fields


_CODE_IDENTITY = _code_digest()
