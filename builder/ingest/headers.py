"""Text shapes with a header: the seed line, ``Key: value`` blocks (and e-mail), and the
plain shape (a headline line, maybe a date line, then the body).

Each function returns a :class:`~builder.ingest.record.Draft` of what the header said and
where the body starts; turning it into a Story is :mod:`builder.ingest.record`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import parseaddr

from builder.ingest.problems import Problem
from builder.ingest.record import Draft, Field

SEED_LINE = re.compile(r"[ \t]*date[ \t]+(?P<date>.*?)(?:[ \t]+by[ \t]+(?P<source>.*?))?[ \t]*",
                       re.IGNORECASE)
_HEADER_LINE = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9_-]{0,40})[ \t]*:[ \t]*(?P<value>.*)")

HEADER_KEYS = {
    "title": "title", "headline": "title", "subject": "title", "hed": "title",
    "date": "date", "published": "date", "pubdate": "date", "sent": "date",
    "updated": "updated", "modified": "updated", "last-modified": "updated",
    "source": "source", "agency": "source", "organization": "source",
    "organisation": "source", "publisher": "publisher",
    "by": "byline", "author": "byline", "byline": "byline", "from": "byline",
    "dateline": "dateline", "topic": "topic", "category": "topic", "section": "topic",
    "tags": "tags", "keywords": "tags", "summary": "summary", "lang": "lang",
    "language": "lang", "url": "source_url", "link": "source_url", "source-url": "source_url",
    "license": "license", "licence": "license", "slug": "slug",
}
"""Header key (lowercase) → schema field."""

TRANSPORT_KEYS = frozenset({
    "to", "cc", "bcc", "message-id", "received", "return-path", "reply-to", "mime-version",
    "content-type", "content-transfer-encoding", "in-reply-to", "references", "sender",
    "delivered-to", "importance", "priority", "thread-topic", "thread-index",
})
"""E-mail transport headers of forwarded wire copy: not about the story, read and ignored."""
_FORWARDED = re.compile(r"-{2,}\s*(?:Forwarded message|Original Message)\s*-{2,}|"
                        r"Begin forwarded message:", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fwd?|aw|wg)\s*:\s*)+", re.IGNORECASE)


def is_seed_line(line: str) -> bool:
    match = SEED_LINE.fullmatch(line)
    return bool(match and re.search(r"\d", match["date"]))


def is_header_line(line: str) -> bool:
    match = _HEADER_LINE.fullmatch(line)
    if not match:
        return False
    key = match["key"].lower()
    return key in HEADER_KEYS or key in TRANSPORT_KEYS or key.startswith("x-")


def parse_seed(lines: list[str]) -> Draft:
    """`` date 2021-01-14 By Trend``, a blank line, the body."""
    match = SEED_LINE.fullmatch(lines[0])
    assert match is not None  # sniff() chose this shape because line 1 matches
    source = (match["source"] or "").strip() or None
    return Draft(shape="seed", date=Field(match["date"], 1),
                 source=Field(source, 1) if source else None,
                 body="\n".join(lines[1:]), body_line=2)


def parse_headers(lines: list[str]) -> Draft:
    """``Key: value`` lines up to the first blank line; continuation lines are indented.

    Forwarded wire copy (``---------- Forwarded message ----------`` or ``Begin forwarded
    message:`` followed by the original headers) is read through: the original message's
    headers win over the forwarding e-mail's, whose date is only when it was forwarded.
    """
    fields, problems, end = _header_block(lines, 0)
    marker = _skip_blank(lines, end)
    if marker < len(lines) and _FORWARDED.fullmatch(lines[marker].strip()):
        inner, inner_problems, end = _header_block(lines, _skip_blank(lines, marker + 1))
        fields.update(inner)
        problems += inner_problems
    title = fields.get("title")
    if title is not None:
        fields["title"] = Field(_REPLY_PREFIX.sub("", title.value), title.line)
    byline = fields.get("byline")
    if byline is not None and ("<" in byline.value or "@" in byline.value):
        name, address = parseaddr(byline.value)  # e-mail From: "Wire Desk <desk@...>"
        if "@" in address:  # an address indeed; "<b>Jane</b>" is a byline kept as written
            fields["byline"] = Field(name or address, byline.line)
    return Draft(shape="headers", body="\n".join(lines[end:]), body_line=end + 1,
                 problems=tuple(problems), **_as_draft_fields(fields))


def _header_block(lines: list[str], start: int) -> tuple[dict[str, Field], list[Problem], int]:
    """(fields, problems, index of the first body line) of the block at ``lines[start]``."""
    fields: dict[str, Field] = {}
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    current: str | None = None  # the field an indented continuation line extends
    continuing = False  # whether an indented line continues a header (kept or ignored)
    for index in range(start, len(lines)):
        line, number = lines[index], index + 1
        if not line.strip():
            return fields, problems, index + 1
        if line[0] in " \t" and continuing:
            if current:
                previous = fields[current]
                fields[current] = Field(f"{previous.value} {line.strip()}", previous.line)
            continue
        match = _HEADER_LINE.fullmatch(line)
        if not match:
            problems.append(Problem(number, f"line {number} is not a 'Key: value' header; the "
                                    "header block ends here", "put a blank line after the header"))
            return fields, problems, index
        key, value = match["key"].lower(), match["value"].strip()
        current, continuing = None, True
        if key in TRANSPORT_KEYS or key.startswith("x-"):
            continue
        target = HEADER_KEYS.get(key)
        if target is None:
            problems.append(Problem(number, f"unknown header '{match['key']}' ignored",
                                    f"known headers: {', '.join(sorted(HEADER_KEYS))}"))
            continue
        if target in seen:
            problems.append(Problem(number, f"header '{match['key']}' repeats line "
                                    f"{seen[target]}; the first one is used",
                                    "remove one of them"))
            continue
        seen[target] = number
        fields[target] = Field(value, number)
        current = target
    return fields, problems, len(lines)


def _as_draft_fields(fields: dict[str, Field]) -> dict[str, Field]:
    return {name: field for name, field in fields.items() if field.value}


def parse_plain(lines: list[str], is_date: Callable[[str], bool]) -> Draft:
    """A headline line, then optionally a date line, then paragraphs; either may be absent.

    ``is_date(text)`` says whether a whole line is a date. A first paragraph counts as a
    headline when it is one short line without a closing full stop.
    """
    index = _skip_blank(lines, 0)
    title = date = None
    for _ in range(2):
        if index >= len(lines):
            break
        line = lines[index].strip()
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        single = not following or is_date(following)
        if date is None and is_date(line):
            date = Field(line, index + 1)
        elif title is None and date is None and _looks_like_headline(line, single):
            title = Field(line, index + 1)
        else:
            break
        index = _skip_blank(lines, index + 1)
    return Draft(shape="plain", title=title, date=date, body="\n".join(lines[index:]),
                 body_line=index + 1)


def _looks_like_headline(line: str, single: bool) -> bool:
    return single and 0 < len(line) <= 150 and line[-1] not in ".,;:" and len(line.split()) >= 2


def _skip_blank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index

