"""Ingest: story files of any accepted shape → normalized :class:`~builder.model.Story`.

``read_file`` is the only function here that touches the disk; everything below it is a
pure function of bytes. The steps, in order::

    decode   bytes → text (BOM, UTF-8, cp1252 with a warning; binary and empty refused)
    sniff    which shape: front_matter, reuters_sgml, nitf, seed, headers, plain
    parse    the shape's header → Draft (what the file states, with line numbers)
    finish   Draft → Story (dates, footer, dateline, inferred title, summary, tags, slug)

Every problem becomes a :class:`~builder.errors.Diagnostic` naming the file and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from builder.config import SiteConfig
from builder.errors import Diagnostic
from builder.ingest import frontmatter, headers, wire
from builder.ingest.dates import DateError, parse_date
from builder.ingest.decode import decode
from builder.ingest.problems import Problem, Unreadable
from builder.ingest.record import Draft, Place, finish, line_order
from builder.ingest.slug import story_slug
from builder.ingest.sniff import sniff
from builder.model import Story, pickled_by_fields

__all__ = ["FileResult", "parse_bytes", "read_file", "story_slug"]


@pickled_by_fields()
@dataclass(frozen=True, slots=True)
class FileResult:
    """Everything read from one file."""

    path: str
    """The file as in :attr:`Diagnostic.path` (relative to the project root when possible)."""
    stories: tuple[Story, ...]
    """One per record; empty when the file is unreadable."""
    diagnostics: tuple[Diagnostic, ...]
    """Warnings and errors of the file and all its stories, in line order."""

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def read_file(path: Path, config: SiteConfig) -> FileResult:
    """Read one story file (the only I/O in ingest) and parse it."""
    path = Path(path)
    relpath, shown = _names(path, config)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem = Problem(None, f"cannot read the file: {exc.strerror or exc}",
                          "check that it exists and is readable", "error")
        return FileResult(shown, (), (problem.diagnostic(shown),))
    return _parse(data, relpath, shown, config)


def parse_bytes(data: bytes, relpath: str, config: SiteConfig) -> FileResult:
    """Parse one file's bytes. Pure: the same inputs always give the same result.

    ``relpath`` is the file's path relative to ``content/`` (``politics/000_ab.txt``); its
    first folder is the story's topic unless the file names one.
    """
    shown = PurePosixPath(config.content_dir, relpath).as_posix()
    return _parse(data, relpath, shown, config)


def _parse(data: bytes, relpath: str, shown: str, config: SiteConfig) -> FileResult:
    file_problems: list[Problem] = []
    stories: list[Story] = []
    try:
        decoded = decode(data)
        file_problems.extend(decoded.problems)
        text = decoded.text
        shape = sniff(text)
        if shape in ("reuters_sgml", "nitf"):
            records = (wire.reuters_records(text) if shape == "reuters_sgml"
                       else wire.nitf_records(text))
        else:
            text = _without_control_codes(text, file_problems)
            # sniff() looks past leading blank lines; so does the header parser, and the
            # offset keeps line numbers those of the file.
            body = text.lstrip("\n")
            records = [wire.Record(body, len(text) - len(body))]
    except Unreadable as exc:
        return FileResult(shown, (), (exc.problem.diagnostic(shown),))
    for number, record in enumerate(records, start=1):
        record_bytes = data if len(records) == 1 else record.text.encode("utf-8")
        place = Place(relpath, number, len(records), hashlib.sha256(record_bytes).hexdigest(),
                      shown=shown, line_offset=record.line_offset)
        common = [p.diagnostic(shown) for p in file_problems if p.severity != "error"]
        try:
            stories.append(finish(_draft(shape, record.text, config), place, config, common))
        except Unreadable as exc:
            file_problems.append(exc.problem.shifted(record.line_offset))
    # File-level warnings are in every story's warnings too: list each once.
    diagnostics = dict.fromkeys([d for s in stories for d in s.warnings]
                                + [p.diagnostic(shown) for p in file_problems])
    return FileResult(shown, tuple(stories), tuple(sorted(diagnostics, key=line_order)))


def _draft(shape: str, text: str, config: SiteConfig) -> Draft:
    if shape == "front_matter":
        return frontmatter.parse_front_matter(text)
    if shape == "reuters_sgml":
        return wire.parse_reuters(text)
    if shape == "nitf":
        return wire.parse_nitf(text)
    lines = text.split("\n")
    if shape == "seed":
        return headers.parse_seed(lines)
    if shape == "headers":
        return headers.parse_headers(lines)

    def is_date(line: str) -> bool:
        try:
            return parse_date(line, day_first=config.day_first, tz=config.tzinfo) is not None
        except DateError:
            return True  # a date line, just an impossible one: finish() reports it
    return headers.parse_plain(lines, is_date)


def _without_control_codes(text: str, problems: list[Problem]) -> str:
    """Text shapes never carry control characters; junk-only files are refused."""
    first = wire.CONTROL.search(text)
    if first is None:
        return text
    junk = wire.junk_problem(text)
    if junk is not None:
        raise Unreadable(junk.line, junk.message, junk.hint)
    count = len(wire.CONTROL.findall(text))
    problems.append(Problem(text.count("\n", 0, first.start()) + 1,
                            f"removed {count} control character{'s' * (count != 1)}",
                            "they are transmission codes, not text; re-save the file clean"))
    return wire.CONTROL.sub("", text)


def _names(path: Path, config: SiteConfig) -> tuple[str, str]:
    """(path relative to content/, path as shown in diagnostics)."""
    return (_relative(path, config.content_path) or path.name,
            _relative(path, config.root) or path.as_posix())


def _relative(path: Path, folder: Path) -> str | None:
    """``path`` relative to ``folder`` (posix), or None when it is not inside. Paths found
    by :func:`discover` are inside lexically; resolving (a system call per path component)
    is the fallback for paths given another way."""
    for candidate, base in ((path, folder), (path.resolve(), folder.resolve())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return None
