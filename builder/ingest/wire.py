"""Wire-service records: Reuters SGML (Reuters-21578 style) and NITF XML.

A file may hold one record or many; each becomes its own story. Explicit metadata in the
record (TOPICS, docdata keywords) beats anything inferred from the folder or the text.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from builder.ingest import lead
from builder.ingest.problems import Problem, Unreadable
from builder.ingest.record import Draft, Field

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters: wire transmission codes, never story text (tab and newline kept)."""

_REUTERS = re.compile(r"<REUTERS\b[^>]*>(.*?)</REUTERS>", re.DOTALL | re.IGNORECASE)
_NITF = re.compile(r"<nitf\b.*?</nitf>", re.DOTALL | re.IGNORECASE)
_FLASH_PLACEHOLDER = "Blah blah blah."
_SIGN_OFF = re.compile(r"\s*\bReuter\s*$")


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a multi-record file: its text, and where it starts."""

    text: str
    line_offset: int
    """Lines before the record in the file (add to a line within the record)."""


def reuters_records(text: str) -> list[Record]:
    records = [Record(m[0], text.count("\n", 0, m.start())) for m in _REUTERS.finditer(text)]
    if not records:
        raise Unreadable(1, "a <REUTERS> record is opened but never closed",
                         "the file may be cut short; restore the closing </REUTERS>")
    return records


def nitf_records(text: str) -> list[Record]:
    records = [Record(m[0], text.count("\n", 0, m.start())) for m in _NITF.finditer(text)]
    if not records:
        raise Unreadable(1, "an <nitf> document is opened but never closed",
                         "the file may be cut short; restore the closing </nitf>")
    return records


def parse_reuters(record: str) -> Draft:
    """One ``<REUTERS>`` record; line numbers are relative to the record."""
    date = _element(record, "DATE")
    topics = [_clean(d) for d in re.findall(r"<D>(.*?)</D>", _element_raw(record, "TOPICS") or "",
                                            re.DOTALL)]
    text_match = re.search(r"<TEXT\b([^>]*)>(.*?)</TEXT>", record, re.DOTALL | re.IGNORECASE)
    if text_match is None:
        raise Unreadable(1, "this Reuters record has no <TEXT> element, so no story",
                         "it is a routing stub; remove it from the file")
    text_type = re.search(r'TYPE\s*=\s*"?(\w+)', text_match[1])
    inner = text_match[2]
    title = _element(inner, "TITLE")
    dateline = _element(inner, "DATELINE")
    body_raw = _element_raw(inner, "BODY")
    if body_raw is None:
        body_raw = re.sub(r"<TITLE>.*?</TITLE>|<DATELINE>.*?</DATELINE>", "", inner,
                          flags=re.DOTALL | re.IGNORECASE)
    body = _reflow(_SIGN_OFF.sub("", _clean_keep_lines(body_raw)).strip("* \n"))
    flash = bool(text_type and text_type[1].upper() == "BRIEF") or body == _FLASH_PLACEHOLDER
    if flash and body == _FLASH_PLACEHOLDER:
        body = ""
    if dateline and body:
        body = f"{dateline} - {body}" if not dateline.endswith(("-", "—")) else f"{dateline} {body}"
    body_line = record.count("\n", 0, text_match.start(2)) + 1
    place = lead.find_dateline(f"{dateline} ") if dateline else None
    return Draft(
        shape="reuters_sgml", body=body, body_line=body_line, flash=flash,
        title=Field(title, _line_of(record, "<TITLE>")) if title else None,
        date=Field(date, _line_of(record, "<DATE>")) if date else None,
        source=Field("Reuters"),
        dateline=Field(place.place if place else dateline.rstrip(" -—")) if dateline else None,
        topic=Field(topics[0], _line_of(record, "<TOPICS>")) if topics else None,
        tags=Field(topics) if topics else None,
    )


def parse_nitf(record: str) -> Draft:
    """One ``<nitf>`` document; line numbers are relative to the record."""
    try:
        root = ET.fromstring(record)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise Unreadable(line, f"broken NITF XML: {str(exc).split(':')[0]}",
                         "named HTML entities like &nbsp; are not XML; use the character "
                         "itself or &#160;") from None
    head = root.find("head")
    body_head = root.find("body/body.head")
    title = _joined(body_head, "hedline/hl1") or _joined(head, "title")
    docdata = head.find("docdata") if head is not None else None
    date = None
    if docdata is not None:
        issue = docdata.find("date.issue")
        if issue is not None:
            date = issue.get("norm") or "".join(issue.itertext()).strip() or None
    if date is None and head is not None:
        pubdata = head.find("pubdata")
        date = pubdata.get("date.publication") if pubdata is not None else None
    byline = _joined(body_head, "byline")
    if byline and byline.lower().startswith("by "):
        byline = byline[3:].strip()
    dateline = _joined(body_head, "dateline/location") or _joined(body_head, "dateline")
    source = _joined(body_head, "distributor")
    if not source and docdata is not None:
        copyright_ = docdata.find("doc.copyright")
        source = copyright_.get("holder") if copyright_ is not None else None
    keywords = [k.get("key", "").strip() for k in docdata.iter("keyword")] if docdata is not None else []
    content = root.find("body/body.content")
    paragraphs = [" ".join("".join(block.itertext()).split())
                  for block in (content if content is not None else [])]
    lang = root.get("{http://www.w3.org/XML/1998/namespace}lang")
    return Draft(
        shape="nitf", body="\n\n".join(p for p in paragraphs if p),
        body_line=_line_of(record, "<body.content") or 1,  # no body element: its first line
        title=Field(title) if title else None, date=Field(date) if date else None,
        byline=Field(byline) if byline else None, dateline=Field(dateline) if dateline else None,
        source=Field(source) if source else None,
        tags=Field([k for k in keywords if k]) if any(keywords) else None,
        lang=Field(lang) if lang else None,
    )


def junk_problem(text: str) -> Problem | None:
    """A file of wire control codes and routing slugs with no story in it."""
    # Routing slugs are codes (BC-MR.-ROOTER, f3010reute); story text has ordinary words.
    words = re.findall(r"\b[A-Za-z]?[a-z]{2,}\b", CONTROL.sub(" ", text))
    sentences = [line for line in text.split("\n")
                 if len(re.findall(r"\b[A-Za-z]?[a-z]{2,}\b", line)) >= 5]
    if sentences or len(words) >= 12:
        return None
    first = CONTROL.search(text)
    line = text.count("\n", 0, first.start()) + 1 if first else None
    return Problem(line, "the file holds wire control codes and a routing slug, but no story",
                   "it is transmission residue; delete it", "error")


def _element_raw(text: str, name: str) -> str | None:
    match = re.search(rf"<{name}\b[^>]*>(.*?)</{name}>", text, re.DOTALL | re.IGNORECASE)
    return match[1] if match else None


def _element(text: str, name: str) -> str:
    raw = _element_raw(text, name)
    return _clean(raw) if raw else ""


def _clean(raw: str) -> str:
    return " ".join(CONTROL.sub(" ", html.unescape(raw)).split())


def _clean_keep_lines(raw: str) -> str:
    return CONTROL.sub("", html.unescape(raw))


def _reflow(text: str) -> str:
    """Wire paragraphs start with an indented line; blank lines separate them for Markdown."""
    paragraphs: list[list[str]] = [[]]
    for line in text.split("\n"):
        if (line[:1] in (" ", "\t") or not line.strip()) and paragraphs[-1]:
            paragraphs.append([])
        if line.strip():
            paragraphs[-1].append(line.strip())
    return "\n\n".join("\n".join(p) for p in paragraphs if p)


def _joined(parent: ET.Element | None, path: str) -> str:
    if parent is None:
        return ""
    found = parent.find(path)
    return " ".join("".join(found.itertext()).split()) if found is not None else ""


def _line_of(text: str, marker: str) -> int | None:
    index = text.find(marker)
    return text.count("\n", 0, index) + 1 if index >= 0 else None

