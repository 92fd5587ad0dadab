"""The data that flows between stages: small, frozen, typed.

``ingest`` turns files into :class:`Story` values; ``assemble`` groups stories into the
site's pages; ``render`` turns pages into bytes. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, fields
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


def pickled_by_fields(*, texts: tuple[str, ...] = ()) -> Callable[[_Fielded], _Fielded]:
    """For a frozen, slotted dataclass pickled in bulk (parses go to the cache and come
    back from worker processes): its pickled state is the tuple of its fields' values, read
    and set by names listed once. Dataclasses' own looks the fields up again for every
    object: 10,000 parses took a quarter longer to unpickle, and to pickle.

    ``texts`` names string fields that may be long (a story's body): they are pickled as
    their UTF-8 bytes. Pickling a string itself makes CPython keep its UTF-8 form inside
    the string for as long as it lives: every body stored in the cache held a second copy
    of its text, 41 MB at 10,000 stories."""

    def decorate(cls: _Fielded) -> _Fielded:
        names = tuple(each.name for each in fields(cls))
        if len(names) < 2:
            raise TypeError(f"{cls.__name__}: pickled_by_fields wants two fields or more")
        values = operator.attrgetter(*names)
        assign = object.__setattr__  # the classes are frozen
        encoded = tuple(names.index(name) for name in texts)

        def __getstate__(self: object) -> tuple:
            state = values(self)
            if not encoded:
                return state
            state = list(state)
            for index in encoded:  # as pickle encodes text, lone surrogates included
                state[index] = state[index].encode("utf-8", "surrogatepass")
            return tuple(state)

        def __setstate__(self: object, state: tuple) -> None:
            if encoded:
                state = list(state)
                for index in encoded:
                    state[index] = state[index].decode("utf-8", "surrogatepass")
            for name, value in zip(names, state, strict=True):
                assign(self, name, value)

        cls.__getstate__ = __getstate__
        cls.__setstate__ = __setstate__
        return cls

    return decorate


@pickled_by_fields(texts=("body",))
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
    body: str = ""
    """The story text as Markdown, without header and publisher footer."""
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

    @property
    def sort_key(self) -> tuple[str, str]:
        """Chronological order, ties broken by id so every ordering is total and stable.

        Aware datetimes compare in UTC; a bare day sorts before any time on that day.
        """
        return (chronological(self.date), self.id)

    @property
    def year(self) -> int | None:
        return self.date.year if self.date else None


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
