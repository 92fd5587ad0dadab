"""What the text itself says: footer, dateline, a headline when none is given, summary.

All functions take plain text (not Markdown) and are pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from builder.ingest.dates import MONTHS

FOOTER_RULE = "---"
_FOOTER_MAX_CHARS = 400
"""A footer is a sign-off (``Follow us on Twitter @AzerNewsAz``), not a section of the story:
text after the last ``---`` longer than this stays in the body, where ``---`` is a rule."""

_MONTH_WORD = "|".join(sorted(MONTHS, key=len, reverse=True))
_PLACE = r"[A-Z][\w.'’&-]*(?:[ ][A-Za-z][\w.'’&-]*){0,3}"
_DATELINE = re.compile(
    rf"(?P<place>{_PLACE}(?:,[ ]{_PLACE}){{0,2}})"
    rf"(?:,?[ ](?P<date>(?:{_MONTH_WORD})\.?[ ]\d{{1,2}}),?)?"
    r"(?:[ ]\((?P<agency>[A-Z][\w .&-]{1,40})\))?"
    r"[ ]+[-–—]+[ ]", re.IGNORECASE)
_REPORTING = frozenset({"report", "reports", "reported", "said", "says", "told", "writes",
                        "wrote", "announced", "quoted", "according"})
_TAIL_WORDS = 9
"""An attribution clause names its reporter within this many words: ``, Trend reports``,
``, the privately owned Portland company said``."""
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Col|Lt|St|Jr|Sr|Inc|Corp|Co|Ltd|No|vs|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])\.$")
_HEADLINE_ARTICLE = re.compile(r"^(?:A|An|The)\s+(?=\S)")
_ROLE_BEFORE_NAME = re.compile(
    r"\b(?:[A-Z][a-z]+\s+)?(?:President|Prime\s+Minister|Foreign\s+Minister|Minister|"
    r"Chancellor|King|Queen|Secretary|Chairman|Chairwoman|Governor|Senator|Mayor|Premier|"
    r"Ambassador|Spokesman|Spokeswoman|CEO)\s+(?=[A-Z][a-z]+\s+[A-Z])")
_TRAILING_FILLER = re.compile(
    r"\s+(?:a|an|the|and|or|of|to|in|on|at|by|for|with|from|as|that|which|who|is|was)$",
    re.IGNORECASE)
TITLE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Dateline:
    place: str
    agency: str | None
    """The agency named in parentheses, e.g. ``Reuters`` in ``MOSCOW, Jan 13 (Reuters) -``."""


def split_footer(text: str) -> tuple[str, str]:
    """(body, footer): the text after the last ``---`` line, when it is short.

    A ``---`` with nothing after it is a separator with an empty footer.
    """
    lines = text.rstrip().split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].strip() == FOOTER_RULE:
            footer = "\n".join(lines[index + 1:]).strip()
            if len(footer) > _FOOTER_MAX_CHARS:
                break
            return "\n".join(lines[:index]).rstrip(), footer
    return text.rstrip(), ""


def find_dateline(lead: str) -> Dateline | None:
    """The place (and agency) a wire lead opens with: ``BONN, June 15 - ...``.

    A place in mixed case (``Caracas, june 1 -``) only counts when a date or an agency
    follows it; otherwise any sentence with a dash would look like a dateline.
    """
    match = _DATELINE.match(lead[:200])
    if not match:
        return None
    place = match["place"].strip()
    if not (match["date"] or match["agency"] or place.split(",")[0].isupper()):
        return None
    return Dateline(place, match["agency"])


def strip_dateline(lead: str) -> str:
    """The lead without its dateline, when it has one."""
    match = _DATELINE.match(lead[:200])
    if match and find_dateline(lead):
        return lead[match.end():]
    return lead


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, not fooled by ``Jan. 13`` or ``U.S.``."""
    for match in re.finditer(r"[.!?][\"”’']?(?=\s+[\"“‘'(]?[A-Z0-9]|\s*$)", text):
        candidate = text[:match.end()]
        tail = candidate[max(0, match.start() - 6):match.start() + 1]  # room for "Sept."
        if match.group()[0] == "." and _ABBREVIATION.search(tail):
            continue
        return candidate.strip()
    return text.strip()


def infer_title(lead: str) -> str:
    """A short headline from the lead sentence, the way a copy editor would write it.

    Drops the dateline, the attribution tail (``, Trend reports referring to ...``), the
    final full stop and a leading article; when still too long, drops role titles before
    full names (``Russian President Vladimir Putin`` → ``Vladimir Putin``); finally cuts
    at a word boundary within :data:`TITLE_LIMIT` characters.
    """
    sentence = " ".join(first_sentence(strip_dateline(lead.strip())).split())
    sentence = sentence.rstrip(".!").strip(" \"“”")
    without_tail = _without_attribution(sentence)
    if len(without_tail) >= 20:  # keep the tail when the sentence is nothing but attribution
        sentence = without_tail
    sentence = _HEADLINE_ARTICLE.sub("", sentence)
    sentence = sentence[:1].upper() + sentence[1:]
    if len(sentence) > TITLE_LIMIT:
        sentence = _ROLE_BEFORE_NAME.sub("", sentence)
    return cut_at_word(sentence, TITLE_LIMIT, ellipsis=False)


def _without_attribution(sentence: str) -> str:
    """``sentence`` without a final ``, X reports ...`` / ``, X said`` clause."""
    start = 0
    while (comma := sentence.find(", ", start)) >= 0:
        words = sentence[comma + 2:].lower().split()[:_TAIL_WORDS]
        if any(word.strip(".,;:") in _REPORTING for word in words):
            return sentence[:comma]
        start = comma + 2
    return sentence


def cut_at_word(text: str, limit: int, *, ellipsis: bool) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary."""
    if len(text) <= limit:
        return text
    room = limit - 1 if ellipsis else limit
    cut = text[:room + 1]
    cut = cut[:cut.rfind(" ")] if " " in cut else text[:room]
    cut = cut.rstrip(" ,;:-–—")
    shorter = _TRAILING_FILLER.sub("", cut)
    while shorter != cut:
        cut, shorter = shorter, _TRAILING_FILLER.sub("", shorter)
    return cut + "…" if ellipsis else cut


def summarize(paragraphs: list[str], limit: int) -> str:
    """The first paragraph of running text, whitespace collapsed, at most ``limit`` chars."""
    for paragraph in paragraphs:
        text = " ".join(paragraph.split())
        if text:
            return cut_at_word(text, limit, ellipsis=True)
    return ""


def paragraphs_of(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
