"""The data that flows between stages: small, frozen, typed.

``ingest`` turns files into :class:`Story` values; ``assemble`` groups stories into the
site's pages; ``render`` turns pages into bytes. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import operator
import sys
import zlib
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field, fields
from typing import TypeVar

from builder.errors import Diagnostic

Moment = dt.date | dt.datetime
"""A story's date: a calendar day when only the day is known, else an aware datetime."""

SCHEMA_KEYS = (
    "title", "title_inferred", "date", "updated", "source", "publisher", "byline",
    "dateline", "topic", "tags", "slug", "id", "summary", "lang", "draft",
    "source_url", "license", "footer",
)
"""The normalized front-matter keys, in the order they are written."""


_Fielded = TypeVar("_Fielded", bound=type)


def pickled_by_fields(*, shared: tuple[str, ...] = ()) -> Callable[[_Fielded], _Fielded]:
    """For a frozen, slotted dataclass pickled in bulk (parses go to the cache and come
    back from worker processes): its pickled state is the tuple of its fields' values, read
    and set by names listed once. Dataclasses' own looks the fields up again for every
    object: 10,000 parses took a quarter longer to unpickle, and to pickle.

    ``shared`` names fields of text (or tuples of text) that many objects repeat (a
    story's topic, source, tags): unpickled, each is the one interned copy of its text,
    not one copy per object (a build holds every story; 750 bytes a story)."""

    def decorate(cls: _Fielded) -> _Fielded:
        names = tuple(each.name for each in fields(cls))
        if len(names) < 2:
            raise TypeError(f"{cls.__name__}: pickled_by_fields wants two fields or more")
        values = operator.attrgetter(*names)
        assign = object.__setattr__  # the classes are frozen
        interned = frozenset(shared)
        unknown = sorted(interned.difference(names))
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)} to share")

        def __getstate__(self: object) -> tuple:
            return values(self)

        def __setstate__(self: object, state: tuple) -> None:
            for name, value in zip(names, state, strict=True):
                assign(self, name, _interned(value) if name in interned else value)

        cls.__getstate__ = __getstate__
        cls.__setstate__ = __setstate__
        return cls

    return decorate


def _interned(value: object) -> object:
    """``value`` with its texts interned (on Python 3.12, an interned text lives as long as
    the process: the preview server keeps each topic, source or tag it ever read)."""
    if type(value) is str:
        return sys.intern(value)
    if type(value) is tuple:
        return tuple(map(_interned, value))
    return value


_BODY_PACKING = 1
"""zlib's fastest level: 34 µs a story to pack, 20 µs to unpack; the slowest packs a body
only 7% smaller, in 40% more time."""


_SHARED = ("topic", "source", "publisher", "byline", "dateline", "tags", "lang", "license",
           "footer", "shape")
"""A story's fields that many stories repeat: one copy of each text, made as the story is
(in the process that parses it) and as it is unpickled (in the one that reads the parse)."""


@pickled_by_fields(shared=_SHARED)
@dataclass(frozen=True, slots=True)
class Story:
    """One news story, normalized whatever shape its file arrived in."""

    id: str
    """Stable identifier: the hex hash in names like ``000_a2039….txt``, else from the path."""
    path: str
    """Source file relative to ``content/`` (posix), plus ``#N`` for the Nth record of a
    multi-record file (N from 1)."""
    title: str
    """Headline; inferred from the lead when the file has none."""
    date: Moment | None
    """Publication date; None only for an undated story when ``allow_undated`` is on."""
    topic: str
    """Front matter, else the first folder under ``content/``, else ``default_topic``."""
    slug: str
    """ASCII URL segment, ``^[a-z0-9]+(-[a-z0-9]+)*$``."""
    body: InitVar[str] = ""
    """The story text as Markdown, without header and publisher footer: given as text,
    kept packed (``packed_body``) and read back as text (the property ``body``)."""
    title_inferred: bool = False
    updated: Moment | None = None
    source: str | None = None
    """The agency the copy came from (Trend, Reuters), canonicalised through aliases."""
    publisher: str | None = None
    """Who published it (AzerNews), from the footer handle or front matter."""
    byline: str | None = None
    dateline: str | None = None
    """Place line of the lead, e.g. ``MOSCOW``."""
    tags: tuple[str, ...] = ()
    summary: str = ""
    lang: str = "en"
    draft: bool = False
    source_url: str | None = None
    """Where the story was first published (credited on its page)."""
    license: str | None = None
    """Licence of the text when it is not the archive's own, e.g. ``CC BY 2.5``."""
    footer: str = ""
    """Publisher footer cut from the end of the raw text (``Follow us on Twitter …``)."""
    shape: str = ""
    """Which input shape the story was read from (``seed``, ``front_matter``, ``headers``,
    ``plain``, ``reuters_sgml``, ``nitf``)."""
    content_hash: str = ""
    """SHA-256 of the story's source bytes (of its record for multi-record files)."""
    body_line: int = 1
    """Line of the source file where ``body`` starts, so a problem found in the body
    (raw HTML removed by the sanitiser) can name its line in the file."""
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False)
    packed_body: bytes = field(init=False, repr=False)
    """``body`` as zlib-compressed UTF-8: a build holds every story at once, and bodies
    were most of it (8.3 KB a story as text, mostly two bytes a character for the curly
    quotes of wire copy; 1.3 KB packed). Equal texts pack to equal bytes."""
    markup: bool = field(init=False, repr=False)
    """The body holds a ``<``: raw HTML the sanitiser may remove, looked for in the text
    only then (without unpacking every body for each build's warnings)."""

    def __post_init__(self, body: str) -> None:
        for name in _SHARED:
            object.__setattr__(self, name, _interned(getattr(self, name)))
        object.__setattr__(self, "packed_body", zlib.compress(
            body.encode("utf-8", "surrogatepass"), _BODY_PACKING))
        object.__setattr__(self, "markup", "<" in body)

    @property
    def sort_key(self) -> tuple[str, str]:
        """Chronological order, ties broken by id so every ordering is total and stable.

        Aware datetimes compare in UTC; a bare day sorts before any time on that day.
        """
        return (chronological(self.date), self.id)

    @property
    def year(self) -> int | None:
        return self.date.year if self.date else None


# The body as text, unpacked where it is read (rendering the story's page, sketching it
# once as it is parsed). A property over an init-only field is no dataclass declaration:
# it replaces the field's default, which ``__init__`` has taken already.
Story.body = property(  # type: ignore[assignment,method-assign]
    lambda story: zlib.decompress(story.packed_body).decode("utf-8", "surrogatepass"),
    doc="The story text as Markdown, without header and publisher footer.")


def chronological(moment: Moment | None) -> str:
    """A string whose order is the chronological order of ``moment`` ('' for None)."""
    if moment is None:
        return ""
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return moment.isoformat()
    return moment.isoformat() + "T"


def iso(moment: Moment | None) -> str:
    """ISO 8601 text of a date or datetime ('' for None)."""
    if moment is None:
        return ""
    return moment.isoformat()
