"""Discover: which files under ``content/`` are stories, and each one's cache key.

The first stage, and deliberately light: it loads no parser and no template engine, so a
build that finds every key and setting unchanged (a no-op) is decided before the modules
of the later stages are even imported.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.cache import Cache, StatIdentity, parse_context, story_key
from builder.config import SiteConfig

__all__ = ["Source", "sources", "story_files"]


def story_files(paths: Sequence[Path | str], config: SiteConfig) -> list[str]:
    """Story files under ``paths`` (files or folders), sorted by path, as path strings.

    Skips dotfiles and dot-folders, ``_``-prefixed names (drafts kept aside) and names
    matching ``config.ignore`` (README*, LICENSE*, *.orig ...). A file named explicitly is
    kept even when a folder walk would skip it.
    """
    ignored = _ignored(tuple(config.ignore))
    found: set[str] = set()
    for path in paths:
        name = os.path.normpath(path)  # one spelling per file: 'a//b' and 'a/./b' are 'a/b'
        if os.path.isfile(name):
            found.add(name)
            continue
        for folder, dirs, files in os.walk(name):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            inside = os.path.join(folder, "")
            found.update(inside + file for file in files
                         if not (file.startswith((".", "_"))
                                 or ignored(os.path.normcase(file))))
    # Strings, not Paths: making 10,000 Path objects cost more than the walk.
    return sorted(found) if os.sep == "/" else sorted(found, key=_posix)


def _posix(name: str) -> str:
    return name if os.sep == "/" else name.replace(os.sep, "/")


@functools.lru_cache(maxsize=16)
def _ignored(globs: tuple[str, ...]) -> Callable[[str], object]:
    """One compiled matcher for all the ``ignore`` globs (as :func:`fnmatch.fnmatch`)."""
    if not globs:
        return lambda _name: False
    return re.compile("|".join(fnmatch.translate(os.path.normcase(glob)) for glob in globs)
                      ).match


@dataclass(frozen=True, slots=True)
class Source:
    """One discovered story file and its cache key."""

    path: str
    relpath: str
    """Its path under ``content/``, posix."""
    key: str
    data: bytes | None = None
    """Its bytes when they were read to take the key; None when the key came from the
    file's unchanged identity (they are read only if the file must be parsed)."""
    readable: bool = True
    """False when the file could not be read: ingest says why, and the key is unique."""

    @classmethod
    def unreadable(cls, path: str, relpath: str) -> Source:
        return cls(path, relpath, f"unreadable:{path}", readable=False)

    def with_bytes(self, context: str) -> Source:
        """This file read, to be parsed; its key is taken again from the bytes read, so a
        file written since it was discovered is cached under its new bytes."""
        try:
            with open(self.path, "rb") as file:
                data = file.read()
        except OSError:
            return Source.unreadable(self.path, self.relpath)
        return Source(self.path, self.relpath, story_key(context, self.relpath, data), data)


def sources(config: SiteConfig, store: Cache) -> list[Source]:
    """Every story file with its cache key: the key covers the bytes, the path and the
    parse context, so a cached parse under it is this file's parse. A file whose identity
    is the one it had when its key was last taken is not read again."""
    context = parse_context(config)
    known = store.file_keys(context)
    read: dict[str, tuple[StatIdentity, str]] = {}
    found = []
    started_ns = time.time_ns()
    inside = os.path.join(os.fspath(config.content_path), "")
    for name in story_files([config.content_path], config):
        try:
            relpath = (_posix(name[len(inside):]) if name.startswith(inside)
                       else Path(name).relative_to(config.content_path).as_posix())
            info = os.stat(name)  # before reading: a later write changes it for next time
            identity = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
            remembered = known.get(name)
            if remembered is not None and remembered[0] == identity:
                found.append(Source(name, relpath, remembered[1]))
                continue
            with open(name, "rb") as file:
                data = file.read()
        except (OSError, ValueError):  # ingest.read_file says why, with a diagnostic
            found.append(Source.unreadable(name, os.path.basename(name)))
            continue
        key = story_key(context, relpath, data)
        read[name] = (identity, key)
        found.append(Source(name, relpath, key, data))
    store.store_file_keys(context, read, [s.path for s in found], started_ns)
    return found
