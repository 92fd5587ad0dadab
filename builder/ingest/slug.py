"""Story slugs: ASCII URL segments that are never empty, never too long, never reserved."""

from __future__ import annotations

import hashlib

from builder.slugs import MAX_SLUG_BYTES, RESERVED, SLUG_PATTERN, ascii_words, is_valid_slug

__all__ = ["MAX_SLUG_BYTES", "RESERVED_SLUGS", "SLUG_PATTERN", "is_valid_slug", "story_slug"]

RESERVED_SLUGS = RESERVED
"""Names of the site's own folders and pages, which a story slug must never shadow."""

_DANGLING = frozenset({"a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "by", "for",
                       "with", "from"})
"""Words a slug cut at the length limit should not end on."""


def story_slug(title: str, story_id: str) -> str:
    """The slug of a story titled ``title``: its words in ASCII, at most 80 bytes, cut at a
    word; ``s-<hash>`` when nothing ASCII is left or the words are a reserved name."""
    words = ascii_words(title)
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
    if not slug or slug in RESERVED:
        digest = hashlib.sha256(f"{story_id}\n{title}".encode("utf-8")).hexdigest()[:12]
        return f"s-{digest}"
    return slug
