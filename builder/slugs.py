"""ASCII URL segments: the one definition of what a slug is and which names are taken.

Story slugs (:func:`builder.ingest.slug.story_slug`) and term slugs (:func:`slugify`) are
made differently — a story's is cut at a word and keeps its id's hash when nothing is left,
a term's keeps every word — but both are built from :func:`ascii_words` and obey
:data:`SLUG_PATTERN`, :data:`MAX_SLUG_BYTES` and :data:`RESERVED`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = ["MAX_SLUG_BYTES", "RESERVED", "SLUG_PATTERN", "ascii_words", "is_valid_slug",
           "short_hash", "slugify", "told_apart"]

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_SLUG_BYTES = 80
RESERVED = frozenset({
    "index", "page", "tags", "topics", "sources", "publishers", "archive", "undated",
    "feeds", "search", "static", "assets", "pagefind", "sitemap", "sitemaps", "robots", "404",
    "atom", "feed", "rss", "con", "nul", "aux", "prn",
})
"""Names a slug may never be: the site's own folders and files, and names some file
systems refuse."""

# Letters that NFKD does not decompose into ASCII but that have a customary spelling.
_TRANSLITERATE = str.maketrans({
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
    "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ł": "l", "Ł": "l",
    "ı": "i", "ə": "e", "Ə": "e", "&": " and ",
})


def ascii_words(text: str) -> list[str]:
    """The words of ``text`` in lowercase ASCII: ``Straße`` → ``strasse``, ``Café`` → ``cafe``;
    letters with no ASCII form are dropped."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFC", text)
                                   .translate(_TRANSLITERATE))
    return re.findall(r"[a-z0-9]+", folded.encode("ascii", "ignore").decode("ascii").lower())


def slugify(text: str) -> str:
    """An ASCII URL segment for a term name: ``^[a-z0-9]+(-[a-z0-9]+)*$``, 1–80 bytes.

    A name with no ASCII letters or digits left (``東京``), or one that is a reserved name,
    gets a short hash of its text so it is never empty and never shadows a site folder.
    """
    slug = "-".join(ascii_words(text))
    if len(slug) > MAX_SLUG_BYTES:
        cut = slug[:MAX_SLUG_BYTES]
        # Prefer cutting at a word boundary when the limit falls inside a word.
        if slug[MAX_SLUG_BYTES] != "-" and "-" in cut:
            cut = cut.rsplit("-", 1)[0]
        slug = cut.strip("-")
    if not slug:
        return "t-" + short_hash(text)
    if slug in RESERVED:
        return f"{slug}-{short_hash(text)}"
    return slug


def short_hash(text: str) -> str:
    """Eight hex digits identifying ``text`` (NFC), for slugs that need disambiguation."""
    return hashlib.sha256(unicodedata.normalize("NFC", text).encode("utf-8")).hexdigest()[:8]


def told_apart(slug: str, text: str) -> str:
    """``slug`` with a short hash of ``text`` added, for the second of two things that would
    share it: still within :data:`MAX_SLUG_BYTES`, never with a ``--``."""
    return f"{slug[:70].rstrip('-')}-{short_hash(text)}"


def is_valid_slug(slug: str) -> bool:
    return (bool(SLUG_PATTERN.fullmatch(slug)) and len(slug) <= MAX_SLUG_BYTES
            and slug not in RESERVED)
