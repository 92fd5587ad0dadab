"""Story slugs: ASCII URL segments that are never empty, never too long, never reserved."""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = ["MAX_SLUG_BYTES", "RESERVED_SLUGS", "SLUG_PATTERN", "is_valid_slug", "story_slug"]

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_SLUG_BYTES = 80
RESERVED_SLUGS = frozenset({
    "index", "tags", "topics", "sources", "publishers", "archive", "feeds", "search", "page",
    "static", "undated",
})
"""Names of the site's own folders and pages, which a story slug must never shadow."""

_DANGLING = frozenset({"a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "by", "for",
                       "with", "from"})
"""Words a slug cut at the length limit should not end on."""
# Letters NFKD does not reduce to ASCII but which have a customary spelling.
_TRANSLITERATE = str.maketrans({
    "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o", "đ": "d",
    "Đ": "d", "ð": "d", "þ": "th", "ł": "l", "Ł": "l", "ı": "i", "ə": "e", "Ə": "e",
})


def story_slug(title: str, story_id: str) -> str:
    """The slug of a story titled ``title``: its words in ASCII, at most 80 bytes, cut at a
    word; ``s-<hash>`` when nothing ASCII is left or the words are a reserved name."""
    folded = unicodedata.normalize("NFKD", title.translate(_TRANSLITERATE))
    words = re.findall(r"[a-z0-9]+", folded.encode("ascii", "ignore").decode("ascii").lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > MAX_SLUG_BYTES:
            break
        slug = candidate
    while "-" in slug and slug.rsplit("-", 1)[1] in _DANGLING:
        slug = slug.rsplit("-", 1)[0]
    if not slug and words:  # a single word longer than the limit
        slug = words[0][:MAX_SLUG_BYTES]
    if not slug or slug in RESERVED_SLUGS:
        digest = hashlib.sha256(f"{story_id}\n{title}".encode("utf-8")).hexdigest()[:12]
        return f"s-{digest}"
    return slug


def is_valid_slug(slug: str) -> bool:
    return (bool(SLUG_PATTERN.fullmatch(slug)) and len(slug) <= MAX_SLUG_BYTES
            and slug not in RESERVED_SLUGS)
