"""``gazette normalize``: stories as JSON lines, or raw files rewritten as Markdown.

The JSON-lines output is a stable interface for scripts: one object per story, in input
order, ``{"file", "status": "ok", <every schema key>, "duplicate_of", "shape", "warnings"}``, or one
``{"file", "status": "error", "error", "line", "hint"}`` per error. ``--write`` rewrites a
raw file as Markdown with YAML front matter and keeps the original bytes beside it as
``FILE.orig`` (skipped by the default ``ignore`` globs); writing an already normalized file
changes no byte.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from builder.config import SiteConfig
from builder.discover import story_files
from builder.errors import Diagnostic
from builder.ingest import FileResult, read_file
from builder.model import SCHEMA_KEYS, Story, iso
from builder.similarity import DuplicateIndex, find_duplicates

__all__ = ["print_jsonl", "story_record", "to_markdown", "write"]

ORIGINAL_SUFFIX = ".orig"
_ALWAYS_WRITTEN = frozenset({"title", "date", "topic", "slug", "id", "lang"})
"""Keys written even when empty; the others are left out when they hold no value."""
# Characters YAML refuses inside a double-quoted scalar even though JSON allows them raw.
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x84\x86-\x9f\ufffe\uffff]")


def story_record(story: Story) -> dict[str, object]:
    """The schema keys of ``story`` as JSON-ready values (dates as ISO strings)."""
    record: dict[str, object] = {}
    for key in SCHEMA_KEYS:
        value = getattr(story, key)
        if isinstance(value, dt.date):
            value = iso(value)
        elif isinstance(value, tuple):
            value = list(value)
        record[key] = value
    return record


def print_jsonl(config: SiteConfig, paths: Sequence[Path], out: TextIO) -> int:
    """Print one JSON object per story (or error) under ``paths``; 1 if any error, else 0.

    ``duplicate_of`` is the id of the earliest version when a story is a later wire copy
    of another story among ``paths``, else null; so every file is read before printing.
    """
    results = [read_file(Path(name), config) for name in story_files(paths, config)]
    duplicates = _duplicates([story for result in results for story in result.stories], config)
    for result in results:
        for line in _json_lines(result, duplicates):
            out.write(line + "\n")
    return 0 if all(result.ok for result in results) else 1


def _duplicates(stories: list[Story], config: SiteConfig) -> DuplicateIndex:
    # A reused id is the build's error to report; here the first story with an id stands.
    unique = {story.id: story for story in reversed(stories)}
    return find_duplicates(list(unique.values()), config.duplicate_threshold)


def _json_lines(result: FileResult, duplicates: DuplicateIndex) -> list[str]:
    lines = []
    for story in result.stories:
        record = {"file": result.path, "status": "ok", **story_record(story),
                  "duplicate_of": duplicates.canonical_of(story.id),
                  "shape": story.shape, "warnings": [_warning(d) for d in story.warnings]}
        lines.append(json.dumps(record, ensure_ascii=False))
    for error in (d for d in result.diagnostics if d.is_error):
        lines.append(json.dumps({"file": result.path, "status": "error", "error": error.message,
                                 "line": error.line, "hint": error.hint}, ensure_ascii=False))
    return lines


def _warning(diagnostic: Diagnostic) -> dict[str, object]:
    return {"line": diagnostic.line, "message": diagnostic.message, "hint": diagnostic.hint}


def to_markdown(story: Story) -> str:
    """The story as Markdown with YAML front matter, keys in schema order.

    Reading the result back gives a story that writes the same bytes again.
    """
    lines = ["---"]
    for key in SCHEMA_KEYS:
        value = getattr(story, key)
        if key not in _ALWAYS_WRITTEN and value in (None, "", (), False):
            continue
        lines.extend(_yaml_entry(key, value))
    lines.append("---")
    head = "\n".join(lines) + "\n"
    body = story.body
    return f"{head}\n{body}\n" if body else head


def _yaml_entry(key: str, value: object) -> list[str]:
    if value is None:
        return [f"{key}: null"]
    if isinstance(value, bool):
        return [f"{key}: {'true' if value else 'false'}"]
    if isinstance(value, dt.date):
        return [f"{key}: {iso(value)}"]  # a YAML timestamp: read back as a date or datetime
    if isinstance(value, tuple):
        if not value:
            return [f"{key}: []"]
        return [f"{key}:"] + [f"  - {_yaml_string(item)}" for item in value]
    return [f"{key}: {_yaml_string(str(value))}"]


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax is a subset of it)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m[0]):04x}", quoted)


def write(config: SiteConfig, paths: Sequence[Path], *, dry_run: bool, out: TextIO) -> int:
    """Rewrite every readable story file under ``paths`` in the normalized form.

    The original bytes are kept as ``FILE.orig`` (an existing ``.orig`` is never
    overwritten: it already holds the original). A file of several wire records becomes
    one file per record, ``STEM-N.SUFFIX``, and the original moves to ``FILE.orig``.
    With ``dry_run`` a unified diff is printed and nothing is written. Returns 1 when a
    file could not be read, else 0.
    """
    failed = False
    for path in map(Path, story_files(paths, config)):
        result = read_file(path, config)
        for diagnostic in result.diagnostics:
            out.write(f"{diagnostic}\n")
        if not result.ok or not result.stories:
            failed = True
            continue
        plan = _plan(path, result.stories)
        old = path.read_bytes()
        if plan == {path: old.decode("utf-8", "replace")}:
            continue  # already normalized: not a byte changes
        if dry_run:
            _print_diff(path, old, plan, out)
            continue
        _apply(path, old, plan)
        written = ", ".join(_shown(p, config) for p in plan)
        out.write(f"normalized {result.path} -> {written} "
                  f"(original kept as {path.name}{ORIGINAL_SUFFIX})\n")
    return 1 if failed else 0


def _shown(path: Path, config: SiteConfig) -> str:
    """``path`` relative to the project root when it is inside it, as diagnostics show it."""
    try:
        return path.resolve().relative_to(config.root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _plan(path: Path, stories: Sequence[Story]) -> dict[Path, str]:
    """New file path → new text."""
    if len(stories) == 1:
        return {path: to_markdown(stories[0])}
    return {path.with_name(f"{path.stem}-{n}{path.suffix}"): to_markdown(story)
            for n, story in enumerate(stories, start=1)}


def _print_diff(path: Path, old: bytes, plan: dict[Path, str], out: TextIO) -> None:
    old_text = old.decode("utf-8", "replace")
    for target, new_text in plan.items():
        before = old_text if target == path else ""
        out.writelines(difflib.unified_diff(
            before.splitlines(keepends=True), new_text.splitlines(keepends=True),
            fromfile=path.as_posix() if target == path else "/dev/null",
            tofile=target.as_posix()))
        if new_text and not new_text.endswith("\n"):
            out.write("\n")


def _apply(path: Path, old: bytes, plan: dict[Path, str]) -> None:
    original = path.with_name(path.name + ORIGINAL_SUFFIX)
    if not original.exists():
        original.write_bytes(old)
    if path not in plan:
        path.unlink()  # split into one file per record; the original is kept as .orig
    for target, text in plan.items():
        target.write_text(text, encoding="utf-8", newline="\n")
