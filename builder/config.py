"""The site configuration: one frozen, typed, validated object.

``gazette.toml`` at the project root is read once into a :class:`SiteConfig`; nothing else
in Gazette reads settings from anywhere. Every key is declared below with its type and a
docstring; an unknown key or a value of the wrong type is a :class:`ConfigError` that
names the key.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from builder.errors import ConfigError

CONFIG_FILE = "gazette.toml"
DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
"""Gazette's own templates; a project's ``templates/`` overrides them file by file."""
DEFAULT_STATIC = DEFAULT_TEMPLATES.parent / "static"
"""Gazette's own static files; a project's ``static/`` overrides them file by file."""
PERMALINK_FIELDS = frozenset({"year", "month", "day", "slug", "id", "topic"})


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Everything a build needs to know besides the content itself."""

    root: Path = Path(".")
    """Project root; relative directories below are resolved against it (not a TOML key)."""

    title: str = "Gazette"
    """Site title, shown in every page header and feed."""
    description: str = "A curated news archive."
    """One-sentence description for meta tags and feeds."""
    base_url: str = "http://localhost:8000/"
    """Absolute URL the site is served from, with its path prefix, e.g.
    ``https://user.github.io/archive/``. Every generated URL respects the prefix."""
    language: str = "en"
    """Default language (BCP 47) of stories and of the site's <html lang>."""
    timezone: str = "UTC"
    """IANA zone that times without an offset are read in, and dates are shown in."""
    per_page: int = 20
    """Stories per list page (home, tags, topics, sources)."""
    permalink: str = "/{year}/{month}/{day}/{slug}/"
    """URL pattern of a story page; fields: year, month, day, slug, id, topic."""
    date_order: str = "DMY"
    """How an all-numeric non-ISO date like ``05.06.1987`` is read: ``DMY`` (5 June) or
    ``MDY`` (May 6). ISO ``YYYY-MM-DD`` always wins; an ambiguous date gets a warning."""
    default_topic: str = "general"
    """Topic of a story that names none and sits directly in ``content/``."""
    allow_undated: bool = False
    """Publish stories that carry no date in an "undated" section instead of failing."""
    max_tags: int = 8
    """At most this many tags are extracted from a story's text."""
    tag_stoplist: tuple[str, ...] = ()
    """Tags never extracted or shown (compared case-insensitively)."""
    source_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Canonical source name → other spellings, e.g. ``Trend = ["Trend News Agency", "trend.az"]``."""
    publisher_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Canonical publisher name → other spellings or footer handles, e.g.
    ``AzerNews = ["@AzerNewsAz", "azernews.az"]``."""
    tag_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Canonical tag → other spellings, e.g. ``"Recep Tayyip Erdogan" = ["Erdogan"]``."""
    summary_length: int = 300
    """Longest summary, in characters, cut at a word boundary."""
    feed_size: int = 50
    """Entries per Atom feed."""
    related_count: int = 5
    """Related stories listed on a story page."""
    duplicate_threshold: float = 0.8
    """Estimated Jaccard similarity of word shingles above which two stories are one wire copy."""
    archive_days: bool = True
    """A page per day in the date archive, besides those per year and month. An archive with
    a few stories a day may do without its thousands of day pages."""
    news_sitemap_days: int = 2
    """Stories this many days old or newer (relative to the build date) go in the news sitemap."""
    cname: str = ""
    """Custom domain for GitHub Pages; writes a ``CNAME`` file when set."""
    search: bool = True
    """Index the built site with Pagefind and ship the search page."""
    content_dir: str = "content"
    """Where the stories are; the first folder below it is a story's default topic."""
    templates_dir: str = "templates"
    """Templates overriding Gazette's defaults, file by file."""
    static_dir: str = "static"
    """Files copied to ``static/`` in the site, overriding Gazette's own file by file."""
    output_dir: str = "site"
    """Where the site is written (``--output`` overrides it for one build)."""
    cache_dir: str = ".gazette-cache"
    """The SQLite build cache; safe to delete (the next build is then cold)."""
    ignore: tuple[str, ...] = ("README*", "LICENSE*", "*.orig", "*.raw")
    """Glob patterns (matched against each file name) of files in content/ that are not stories."""

    # -- derived values -------------------------------------------------------------------

    @property
    def content_path(self) -> Path:
        return self.root / self.content_dir

    @property
    def templates_path(self) -> Path:
        return self.root / self.templates_dir

    @property
    def static_path(self) -> Path:
        return self.root / self.static_dir

    @property
    def output_path(self) -> Path:
        return self.root / self.output_dir

    @property
    def cache_path(self) -> Path:
        return self.root / self.cache_dir

    @property
    def base_path(self) -> str:
        """The path prefix of ``base_url``: ``/`` or e.g. ``/archive/``."""
        return urlsplit(self.base_url).path

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_first(self) -> bool:
        return self.date_order == "DMY"

    @property
    def portable(self) -> SiteConfig:
        """These settings without the project's location: what a build's digests take, so
        one project built from its folder, with ``--root /its/path`` or after a move is one
        build (no page shows the root)."""
        return dataclasses.replace(self, root=Path("."))

    def replace(self, **changes: object) -> SiteConfig:
        """A copy with ``changes`` applied and validated (for command-line overrides)."""
        return _validated(dataclasses.replace(self, **changes))


_KEYS = {f.name: f for f in dataclasses.fields(SiteConfig) if f.name != "root"}


def load_config(root: Path, path: Path | None = None, **overrides: object) -> SiteConfig:
    """Read ``gazette.toml`` (or ``path``) under ``root``; a missing file means all defaults.

    ``overrides`` are command-line values (``None`` means "not given") applied last.
    """
    root = Path(root)
    config_file = path or root / CONFIG_FILE
    data: dict[str, object] = {}
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{config_file}: not UTF-8 text") from None
    elif path is not None:
        raise ConfigError(f"{config_file}: no such configuration file")
    values = {key: _coerce(key, value, str(config_file.name)) for key, value in data.items()}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return _validated(SiteConfig(root=root, **values))


def _coerce(key: str, value: object, source: str) -> object:
    """Check one TOML value against the declared type of ``key`` and convert it."""
    if key not in _KEYS:
        close = [k for k in _KEYS if k.split("_")[0] == key.split("_")[0]]
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"{source}: unknown key '{key}'{hint}")
    expected = typing.get_type_hints(SiteConfig)[key]
    wrong = ConfigError(f"{source}: key '{key}' must be {_describe(expected)}, not {value!r}")
    origin = typing.get_origin(expected)
    if expected is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise wrong
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise wrong
        out: dict[str, tuple[str, ...]] = {}
        for name, spellings in value.items():
            if isinstance(spellings, str):
                spellings = [spellings]
            if not isinstance(spellings, list) or not all(isinstance(s, str) for s in spellings):
                raise ConfigError(
                    f"{source}: key '{key}.{name}' must be a list of strings, not {spellings!r}"
                )
            out[name] = tuple(spellings)
        return out
    raise AssertionError(f"no coercion for {key}: {expected}")  # a SiteConfig field without one


def _describe(expected: object) -> str:
    if isinstance(expected, type):
        return {"bool": "true or false", "int": "a whole number", "float": "a number",
                "str": "a string"}[expected.__name__]
    if typing.get_origin(expected) is tuple:
        return "a list of strings"
    if typing.get_origin(expected) in (dict, types.GenericAlias):
        return "a table of name = [spellings]"
    return str(expected)


def _validated(config: SiteConfig) -> SiteConfig:
    """Check the values that have a shape beyond their type."""
    url = urlsplit(config.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ConfigError(
            f"key 'base_url' must be an absolute http(s) URL such as "
            f"https://user.github.io/archive/, not {config.base_url!r}"
        )
    if not config.base_url.endswith("/"):
        config = dataclasses.replace(config, base_url=config.base_url + "/")
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"key 'timezone' must be an IANA zone such as 'UTC' or 'Europe/Berlin', "
            f"not {config.timezone!r}"
        ) from None
    if config.date_order not in ("DMY", "MDY"):
        raise ConfigError(f"key 'date_order' must be 'DMY' or 'MDY', not {config.date_order!r}")
    for key in ("per_page", "feed_size", "summary_length"):
        if getattr(config, key) < 1:
            raise ConfigError(f"key '{key}' must be at least 1, not {getattr(config, key)}")
    for key in ("max_tags", "related_count", "news_sitemap_days"):
        if getattr(config, key) < 0:
            raise ConfigError(f"key '{key}' must not be negative, not {getattr(config, key)}")
    if not 0.0 < config.duplicate_threshold <= 1.0:
        raise ConfigError(
            f"key 'duplicate_threshold' must be in (0, 1], not {config.duplicate_threshold}"
        )
    _check_permalink(config.permalink)
    if config.cname and not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}", config.cname):
        raise ConfigError(f"key 'cname' must be a bare domain name, not {config.cname!r}")
    return config


def _check_permalink(pattern: str) -> None:
    fields = set(re.findall(r"{([^}]*)}", pattern))
    unknown = fields - PERMALINK_FIELDS
    if unknown:
        raise ConfigError(
            f"key 'permalink' uses unknown field(s) {', '.join(sorted(unknown))}; "
            f"use {', '.join(sorted(PERMALINK_FIELDS))}"
        )
    if not pattern.startswith("/") or not pattern.endswith("/"):
        raise ConfigError(f"key 'permalink' must start and end with '/', not {pattern!r}")
    if "slug" not in fields and "id" not in fields:
        raise ConfigError("key 'permalink' must contain {slug} or {id} so story URLs are unique")
