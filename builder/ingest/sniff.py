"""Which shape a story file arrived in, decided from its first lines only."""

from __future__ import annotations

import re

from builder.ingest.frontmatter import starts_front_matter
from builder.ingest.headers import is_header_line, is_seed_line

SHAPES = ("front_matter", "reuters_sgml", "nitf", "seed", "headers", "plain")
_NITF_START = re.compile(r"\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<nitf\b",
                         re.DOTALL | re.IGNORECASE)
_REUTERS_START = re.compile(r"\s*(?:<!DOCTYPE[^>]*>\s*)?<REUTERS\b", re.IGNORECASE)


def sniff(text: str) -> str:
    """The name of the shape of ``text`` (decoded, ``\\n`` line endings)."""
    if starts_front_matter(text):
        return "front_matter"
    head = text[:4096]
    if _REUTERS_START.match(head):
        return "reuters_sgml"
    if _NITF_START.match(head):
        return "nitf"
    first_line = text.lstrip("\n").split("\n", 1)[0]
    if is_seed_line(first_line):
        return "seed"
    if is_header_line(first_line):
        return "headers"
    return "plain"
