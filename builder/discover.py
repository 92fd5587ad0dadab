"""Discover: which files under ``content/`` are stories, and each one's cache key.

The first stage, and deliberately light: it loads no parser and no template engine, so a
build that finds every key and setting unchanged (a no-op) is decided before the modules
of the later stages are even imported.
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import os
import re
import stat
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.cache import Cache, StatIdentity, parse_context, story_key
from builder.config import SiteConfig
from builder.model import pickled_by_fields

__all__ = ["Source", "sources", "sources_after", "story_files"]


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
            dirs[:] = [d for d in dirs if not d.startswith(_SKIPPED)]
            inside = os.path.join(folder, "")
            found.update(inside + file for file in files if _is_story_name(file, ignored))
    # Strings, not Paths: making 10,000 Path objects cost more than the walk.
    return sorted(found) if os.sep == "/" else sorted(found, key=_posix)


_SKIPPED = (".", "_")
"""Names of files and folders a walk skips: dotfiles and drafts kept aside."""


def _is_story_name(file: str, ignored: Callable[[str], object]) -> bool:
    return not (file.startswith(_SKIPPED) or ignored(os.path.normcase(file)))


def _posix(name: str) -> str:
    return name if os.sep == "/" else name.replace(os.sep, "/")


@functools.lru_cache(maxsize=16)
def _ignored(globs: tuple[str, ...]) -> Callable[[str], object]:
    """One compiled matcher for all the ``ignore`` globs (as :func:`fnmatch.fnmatch`)."""
    if not globs:
        return lambda _name: False
    return re.compile("|".join(fnmatch.translate(os.path.normcase(glob)) for glob in globs)
                      ).match


@pickled_by_fields()
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

    def without_bytes(self) -> Source:
        return Source(self.path, self.relpath, self.key, None, self.readable)

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
        relpath = (_posix(name[len(inside):]) if name.startswith(inside)
                   else Path(name).relative_to(config.content_path).as_posix())
        found.append(_keyed(name, relpath, context, known.get(name), read))
    store.store_file_keys(context, read, known.keys() - {source.path for source in found},
                          started_ns)
    return found


def sources_after(previous: Sequence[Source], changed: Collection[str], config: SiteConfig,
                  store: Cache) -> list[Source] | None:
    """:func:`sources` again, made from ``previous`` (what it last returned) and the paths
    ``changed`` since (absolute: files or folders anywhere, as a file watcher tells them):
    only those are looked at, and each story file among them is read. None when a folder
    under ``content/`` appeared, went or was moved: then call :func:`sources`.

    A watcher can miss an event (its kernel queue overflows); the preview server checks
    with :func:`sources` once its rebuild is live."""
    content = os.path.normpath(config.content_path)
    inside = os.path.join(os.path.abspath(content), "")
    context = parse_context(config)
    ignored = _ignored(tuple(config.ignore))
    found = list(previous)
    read: dict[str, tuple[StatIdentity, str]] = {}
    gone = []
    started_ns = time.time_ns()
    for path in sorted(map(os.path.normpath, changed)):
        if not path.startswith(inside):
            if inside.startswith(os.path.join(path, "")):
                return None  # content/ itself, or a folder holding it
            continue
        relpath = _posix(path[len(inside):])
        folders, _, file = relpath.rpartition("/")
        if any(part.startswith(_SKIPPED) for part in (*folders.split("/"), file) if part):
            continue  # a walk skips such files and folders, and all inside them
        name = os.path.join(content, path[len(inside):])  # spelled as a walk spells it
        kind = _kind(name)
        if kind is False or _holds_some(found, name):
            return None  # a folder came or went (or a fifo, a socket ...): a walk decides
        at = bisect.bisect_left(found, _posix(name), key=_sort_key)
        listed = at < len(found) and found[at].path == name
        if kind is None:  # gone: a story file, or neither
            if listed:
                gone.append(name)
                del found[at]
        elif _is_story_name(file, ignored):
            source = _keyed(name, relpath, context, None, read)
            if listed:
                found[at] = source
            else:
                found.insert(at, source)
    store.store_file_keys(context, read, gone, started_ns)
    return found


def _kind(name: str) -> bool | None:
    """True for what a walk lists as a file and the key of which is taken from its bytes
    (a regular file, a link to one, a broken link: unreadable), False for anything else
    that exists (a folder), None when nothing is there."""
    try:
        mode = os.lstat(name).st_mode
        if stat.S_ISLNK(mode):
            mode = os.stat(name).st_mode
    except (FileNotFoundError, NotADirectoryError):  # gone, or a broken link
        return None if not os.path.islink(name) else True
    except OSError:
        return True  # unreadable: keyed as such, and ingest says why
    return stat.S_ISREG(mode)


def _holds_some(found: Sequence[Source], name: str) -> bool:
    """Whether any of ``found`` (in walk order) lies inside the folder ``name``."""
    inside = os.path.join(name, "")
    at = bisect.bisect_left(found, _posix(inside), key=_sort_key)
    return at < len(found) and found[at].path.startswith(inside)


def _sort_key(source: Source) -> str:
    """The order :func:`story_files` lists files in."""
    return _posix(source.path)


def _keyed(name: str, relpath: str, context: str,
           remembered: tuple[StatIdentity, str] | None,
           read: dict[str, tuple[StatIdentity, str]]) -> Source:
    """The file ``name`` with its key: the ``remembered`` one while the file's identity is
    the one remembered with it, else its bytes' (put in ``read`` with the identity)."""
    try:
        info = os.stat(name)  # before reading: a later write changes it for next time
        identity = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        if remembered is not None and remembered[0] == identity:
            return Source(name, relpath, remembered[1])
        with open(name, "rb") as file:
            data = file.read()
    except (OSError, ValueError):  # ingest.read_file says why, with a diagnostic
        return Source.unreadable(name, os.path.basename(name))
    key = story_key(context, relpath, data)
    read[name] = (identity, key)
    return Source(name, relpath, key, data)
