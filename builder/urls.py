"""Slugs, permalinks and output paths: the only place a URL of the site is made.

Every URL inside Gazette is a *site path*: it starts and ends at the site root, e.g.
``/tags/cafe/`` or ``/feeds/atom.xml``, and knows nothing of where the site is served.
:func:`href` and :func:`absolute` add the configured base path or base URL at the last
moment, and :func:`output_path` maps a site path to the file that serves it, refusing any
path that could land outside the output directory.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from builder.config import SiteConfig
from builder.memo import memo
from builder.model import Story
from builder.slugs import RESERVED, SLUG_PATTERN, is_valid_slug, short_hash, slugify, told_apart

__all__ = [
    "RESERVED", "SLUG_PATTERN", "TAXONOMIES", "UnsafePath", "absolute", "archive_path",
    "feed_path", "href", "local_day", "output_path", "paginated", "short_hash", "slugify",
    "story_path", "term_path", "told_apart",
]

TAXONOMIES = ("topics", "tags", "sources", "publishers")
"""The term kinds, in the order they appear in navigation; each is also its URL folder."""

class UnsafePath(ValueError):
    """A site path that does not map to a file inside the output directory."""


def story_path(story: Story, config: SiteConfig, *, apart: bool = False) -> str:
    """The site path of a story page, from ``config.permalink``; undated stories live under
    ``/undated/`` because a date pattern cannot be filled without a date. With ``apart``
    the slug carries a short hash of the story's id (:func:`told_apart`), to tell apart two
    stories that would share a URL."""
    return _story_path(story.slug, story.id, story.topic, story.date, apart,
                       config.permalink, config.timezone)


@memo(maxsize=1 << 18)  # each story's, again at every rebuild of a preview
def _story_path(slug: str, story_id: str, topic: str, date: dt.date | dt.datetime | None,
                apart: bool, permalink: str, timezone: str) -> str:
    # Equal keys give equal paths: aware datetimes that are equal are one instant, which
    # falls on one day in the site's zone; a date never equals a datetime.
    if not is_valid_slug(slug):  # a Story made elsewhere may carry a reserved or odd slug
        slug = slugify(slug or story_id)
    if apart:
        slug = told_apart(slug, story_id)
    if date is None:
        return f"/undated/{slug}/"
    day = _day_in(date, timezone)
    fields = {
        "year": f"{day.year:04d}", "month": f"{day.month:02d}", "day": f"{day.day:02d}",
        "slug": slug, "id": slugify(story_id), "topic": slugify(topic),
    }
    return permalink.format_map(fields)


def local_day(moment: dt.date | dt.datetime, config: SiteConfig) -> dt.date:
    """The calendar day a story belongs to, seen in the site's time zone."""
    return _day_in(moment, config.timezone)


def _day_in(moment: dt.date | dt.datetime, timezone: str) -> dt.date:
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(timezone))
        return moment.date()
    return moment


def paginated(path: str, number: int) -> str:
    """Page ``number`` of a list that starts at ``path``: ``/tags/x/`` then ``/tags/x/page/2/``."""
    return path if number == 1 else f"{path}page/{number}/"


def term_path(kind: str, slug: str | None = None) -> str:
    """``/tags/`` (the index of a taxonomy) or ``/tags/<slug>/`` (one term)."""
    if kind not in TAXONOMIES:
        raise ValueError(f"unknown taxonomy {kind!r}")
    return f"/{kind}/" if slug is None else f"/{kind}/{slug}/"


def archive_path(year: int | None = None, month: int | None = None, day: int | None = None) -> str:
    """``/archive/``, ``/archive/2021/``, ``/archive/2021/01/`` or ``/archive/2021/01/14/``."""
    parts = [f"{year:04d}"] if year is not None else []
    if month is not None:
        parts.append(f"{month:02d}")
    if day is not None:
        parts.append(f"{day:02d}")
    return "/archive/" + "".join(p + "/" for p in parts)


def feed_path(list_path: str = "/") -> str:
    """The Atom feed of a list: ``/atom.xml`` for the site, ``/tags/x/atom.xml`` for a term."""
    return f"{list_path}atom.xml"


def href(config: SiteConfig, path: str) -> str:
    """A root-relative link that respects the base path: ``/news/tags/x/`` under ``/news/``."""
    return config.base_path + path.lstrip("/")


def absolute(config: SiteConfig, path: str) -> str:
    """The full URL of a site path, for canonical links, feeds and sitemaps."""
    return config.base_url + path.lstrip("/")


_FORBIDDEN = re.compile(r"[\\%?#:\x00-\x1f]")
"""Characters no site path may hold: backslash, percent-escapes, query, fragment, scheme
separator and control characters (NUL among them)."""


@memo(maxsize=1 << 17)  # a site's pages, again at every rebuild of a preview
def output_path(path: str) -> str:
    """The file, relative to the output directory, that serves the site path ``path``.

    ``/a/b/`` → ``a/b/index.html``; ``/404.html`` → ``404.html``. Anything that could
    escape the output directory or name something other than a plain file (``..``, ``.``,
    empty segments, backslashes, NUL, percent-escapes, a scheme or host) is refused, so a
    hostile slug can never write outside it.
    """
    if not path.startswith("/") or path.startswith("//"):
        raise UnsafePath(f"site path must start with a single '/': {path!r}")
    if _FORBIDDEN.search(path):
        raise UnsafePath(f"site path contains a forbidden character: {path!r}")
    segments = path[1:].split("/")
    if path.endswith("/"):
        segments = segments[:-1] + ["index.html"] if segments != [""] else ["index.html"]
    if any(seg in ("", ".", "..") for seg in segments):
        raise UnsafePath(f"site path has an empty, '.' or '..' segment: {path!r}")
    return "/".join(segments)
