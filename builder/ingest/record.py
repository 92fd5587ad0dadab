"""Draft → Story: what every shape has in common once its header has been read.

A shape parser says what the file states (a :class:`Draft` of :class:`Field` values with
their lines); :func:`finish` fills every gap the same way for all shapes: date parsing,
footer and publisher, dateline and agency, inferred headline, summary, tags, slug, id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from builder.config import SiteConfig
from builder.errors import Diagnostic
from builder.ingest import lead
from builder.ingest.dates import DateError, parse_date
from builder.ingest.entities import extract_tags
from builder.ingest.problems import Problem, Unreadable
from builder.ingest.slug import is_valid_slug, story_slug
from builder.model import Moment, Story

RAW_SHAPES = frozenset({"seed", "headers", "plain", "reuters_sgml", "nitf"})
"""Shapes whose body is plain text, turned into Markdown here (front matter is Markdown)."""
_HANDLE = re.compile(r"@([A-Za-z0-9_]{1,30})")
_FILE_ID = re.compile(r"(?:^|_)([0-9a-f]{12,64})$")


@dataclass(frozen=True, slots=True)
class Field:
    """A value the file states, and the line it is on."""

    value: Any
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """What one record's header and text say, before gaps are filled."""

    shape: str
    body: str = ""
    """Plain text for raw shapes, Markdown for front matter; footer not yet split off."""
    body_line: int = 1
    title: Field | None = None
    date: Field | None = None
    updated: Field | None = None
    source: Field | None = None
    publisher: Field | None = None
    byline: Field | None = None
    dateline: Field | None = None
    topic: Field | None = None
    tags: Field | None = None
    slug: Field | None = None
    id: Field | None = None
    summary: Field | None = None
    lang: Field | None = None
    draft: Field | None = None
    source_url: Field | None = None
    license: Field | None = None
    footer: Field | None = None
    title_inferred: Field | None = None
    flash: bool = False
    """A wire flash: a headline whose body is a placeholder (``Blah blah blah.``)."""
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Place:
    """Where a record sits: its file and its position among the file's records."""

    relpath: str
    """Relative to content/, posix."""
    number: int = 1
    count: int = 1
    content_hash: str = ""
    shown: str = field(kw_only=True)
    """The file as diagnostics name it (``content/world/001.txt``)."""
    line_offset: int = field(default=0, kw_only=True)
    """Lines of the file before the record's first: a record's lines are counted from 1."""

    @property
    def story_path(self) -> str:
        return f"{self.relpath}#{self.number}" if self.count > 1 else self.relpath

    @property
    def folder_topic(self) -> str | None:
        parts = self.relpath.split("/")
        return parts[0] if len(parts) > 1 else None

    def story_id(self) -> str:
        stem = self.relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        match = _FILE_ID.search(stem)
        base = match[1] if match else hashlib.sha256(self.relpath.encode()).hexdigest()[:16]
        return f"{base}-{self.number}" if self.count > 1 else base


@dataclass(slots=True)
class _Notes:
    """Warnings gathered while finishing one record (local to one call of :func:`finish`)."""

    items: list[Problem] = field(default_factory=list)

    def warn(self, line: int | None, message: str, hint: str = "") -> None:
        self.items.append(Problem(line, message, hint))


def finish(draft: Draft, place: Place, config: SiteConfig,
           file_warnings: Sequence[Diagnostic] = ()) -> Story:
    """The Story a draft describes, warned of its own problems and ``file_warnings`` (its
    file's); raises :class:`Unreadable`."""
    notes = _Notes(list(draft.problems))
    raw = draft.shape in RAW_SHAPES
    body, footer = draft.body.strip("\n"), _text(draft.footer)
    if raw and draft.shape not in ("reuters_sgml", "nitf"):
        body, split_footer = lead.split_footer(body)
        footer = footer or split_footer
    plain = _plain_paragraphs(body, raw)
    date = _date(draft.date, "date", config, notes, required=True)
    updated = _date(draft.updated, "updated", config, notes, required=False)
    first = plain[0] if plain else ""
    found_dateline = lead.find_dateline(first) if first else None
    source = _text(draft.source) or (found_dateline.agency if found_dateline else None)
    publisher = _text(draft.publisher) or _footer_publisher(footer)
    story_id = _text(draft.id) or place.story_id()
    title = " ".join((_text(draft.title) or "").split())
    title_inferred = bool(draft.title_inferred and draft.title_inferred.value)
    if not title:
        title = lead.infer_title(first) if first else ""
        title_inferred = True
        if not title:
            title = "Untitled"
            notes.warn(None, "no headline and no text to infer one from",
                       "add a 'title:' line")
    if draft.flash:
        notes.warn(draft.body_line, "a wire flash: headline only, the body is empty",
                   "nothing to do unless the full story should replace it")
    elif not plain:
        notes.warn(draft.body_line, "the story has a header but no body",
                   "add the story text, or keep it as a headline-only flash")
    source = _canonical(source, config.source_aliases)
    publisher = _canonical(publisher, config.publisher_aliases)
    tags = _tags(draft.tags, title, plain, source, publisher, config)
    slug = _slug(draft.slug, title, story_id, notes)
    return Story(
        id=story_id, path=place.story_path, title=title, date=date,
        topic=_text(draft.topic) or place.folder_topic or config.default_topic, slug=slug,
        body=_markdown(body) if raw else body, title_inferred=title_inferred, updated=updated,
        source=source, publisher=publisher, byline=_optional(draft.byline),
        dateline=_text(draft.dateline) or (found_dateline.place if found_dateline else None),
        tags=tags,
        summary=" ".join(_text(draft.summary).split()) or lead.summarize(plain,
                                                                         config.summary_length),
        lang=_text(draft.lang) or config.language, draft=bool(draft.draft and draft.draft.value),
        source_url=_optional(draft.source_url), license=_optional(draft.license), footer=footer,
        shape=draft.shape, content_hash=place.content_hash,
        body_line=(draft.body_line + len(draft.body) - len(draft.body.lstrip("\n"))
                   + place.line_offset),
        warnings=tuple(sorted([*file_warnings, *(
            problem.shifted(place.line_offset).diagnostic(place.shown)
            for problem in notes.items)], key=line_order)),
    )


def line_order(diagnostic: Diagnostic) -> tuple[int, str, str, str]:
    """The order of one file's diagnostics: by line (the file's own first), then text."""
    return (diagnostic.line or 0, diagnostic.message, diagnostic.hint, diagnostic.severity)


def _optional(value: Field | None) -> str | None:
    return _text(value) or None


def _text(value: Field | None) -> str:
    if value is None or value.value is None:
        return ""
    return str(value.value).strip()


def _date(value: Field | None, key: str, config: SiteConfig, notes: _Notes, *, required: bool
          ) -> Moment | None:
    if value is None or value.value in (None, ""):
        if not required:
            return None
        if config.allow_undated:
            notes.warn(None, "no date anywhere in the file; published as undated",
                       "add a 'date:' line to place it in the archive")
            return None
        raise Unreadable(None, "no date anywhere in the file",
                         "add a `date:` line or set allow_undated = true")
    if isinstance(value.value, dt.datetime):
        moment = value.value
        return moment if moment.tzinfo else moment.replace(tzinfo=config.tzinfo)
    if isinstance(value.value, dt.date):
        return value.value
    text = str(value.value)
    try:
        parsed = parse_date(text, day_first=config.day_first, tz=config.tzinfo)
    except DateError as exc:
        raise Unreadable(value.line, str(exc), exc.hint) from None
    if parsed is None:
        raise Unreadable(value.line, f"cannot read the {key} '{text}'",
                         "write it as YYYY-MM-DD, optionally with a time: 2021-01-14 10:31")
    if parsed.ambiguous:
        order = "day-first" if config.day_first else "month-first"
        notes.warn(value.line, f"ambiguous {key} '{text}' read {order} as "
                               f"{parsed.value.isoformat()}",
                   "write it as YYYY-MM-DD, or set date_order in gazette.toml")
    return parsed.value


def _footer_publisher(footer: str) -> str | None:
    match = _HANDLE.search(footer)
    return match[1] if match else None


def _canonical(name: str | None, aliases: Mapping[str, tuple[str, ...]]) -> str | None:
    """The canonical spelling of ``name``; handles match with or without their ``@``."""
    if not name:
        return None
    wanted = name.lstrip("@").casefold()
    for canonical, spellings in aliases.items():
        for spelling in (canonical, *spellings):
            if spelling.lstrip("@").casefold() == wanted:
                return canonical
    return name


def _tags(value: Field | None, title: str, plain: list[str], source: str | None,
          publisher: str | None, config: SiteConfig) -> tuple[str, ...]:
    if value is not None and value.value is not None:
        given = value.value
        items = re.split(r"[,;]", given) if isinstance(given, str) else [str(v) for v in given]
        return tuple(dict.fromkeys(t.strip() for t in items if t.strip()))
    return extract_tags(title, plain, limit=config.max_tags, stoplist=config.tag_stoplist,
                        aliases=config.tag_aliases,
                        exclude=[name for name in (source, publisher) if name])


def _slug(value: Field | None, title: str, story_id: str, notes: _Notes) -> str:
    given = _text(value)
    if given:
        if is_valid_slug(given):
            return given
        notes.warn(value.line if value else None,
                   f"slug '{given}' is not lowercase ASCII words joined by '-', or is reserved; "
                   "made one from the title", "remove the slug line or fix it")
    return story_slug(title, story_id)


def _plain_paragraphs(body: str, raw: bool) -> list[str]:
    paragraphs = lead.paragraphs_of(body)
    if raw:
        return paragraphs
    return [p for p in (_unmarkdown(p) for p in paragraphs) if p]


_MARKUP = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), ""),            # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),          # links keep their text
    (re.compile(r"<[^>\n]+>"), ""),                         # inline HTML
    (re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE), ""),
    (re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
)


def _unmarkdown(paragraph: str) -> str:
    """Plain text of one Markdown paragraph, for summaries and tags (not rendering).

    Headings, code, tables and rules are not running text: they give ''."""
    if paragraph.startswith(("```", "    ", "|", "#")) or paragraph.strip("-*_ ") == "":
        return ""
    for pattern, replacement in _MARKUP:
        paragraph = pattern.sub(replacement, paragraph)
    return paragraph.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _markdown(text: str) -> str:
    """Plain text as Markdown that renders as the same text.

    Indentation is dropped (it would make code blocks), runs of blank lines become one, and
    ``<`` is escaped so wire tickers like ``<BBF>`` survive HTML sanitising.
    """
    text = "\n".join(line.strip() for line in text.split("\n")).strip()
    if "\n\n\n" in text:
        text = re.sub(r"\n{3,}", "\n\n", text)
    if "&" in text:
        text = _ENTITY_LIKE.sub(lambda match: "&amp;" + match[0][1:], text)
    return text.replace("<", "&lt;") if "<" in text else text

_ENTITY_LIKE = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
