"""Diagnostics and the exception tree.

Every problem Gazette reports about a user's input is a :class:`Diagnostic`: the
file, the line when there is one, what is wrong and what to do about it.

Exceptions::

    GazetteError            any failure the CLI turns into a message and an exit code
    ├── ConfigError         gazette.toml or a command-line override is invalid   (exit 2)
    ├── ContentError        stories could not be read; carries the diagnostics   (exit 1)
    └── BuildError          the site could not be rendered or written            (exit 1)

A traceback is only ever shown for a bug in Gazette itself, never for bad content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem found in one input file."""

    path: str
    """The file, relative to the project root where possible (posix separators)."""
    line: int | None
    """1-based line number in the file, or None when the problem is not tied to a line."""
    message: str
    """What is wrong, in one sentence."""
    hint: str = ""
    """What the curator can do about it."""
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = f"{where}: {self.severity}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def by_place(diagnostic: Diagnostic) -> tuple[str, int, str, str]:
    """Sort key of diagnostics: file, line (none first), message. Diagnostic's own order
    cannot compare a missing line with a number."""
    return (diagnostic.path, diagnostic.line or 0, diagnostic.message, diagnostic.severity)


class GazetteError(Exception):
    """Base of every error the CLI reports as a message rather than a traceback."""

    exit_code = 1


class ConfigError(GazetteError):
    """The configuration is invalid; the message names the key."""

    exit_code = 2


class ContentError(GazetteError):
    """One or more stories could not be read."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        count = len(self.diagnostics)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the content")


class BuildError(GazetteError):
    """The site could not be rendered or written."""

    def __init__(self, message: str, diagnostics: tuple[Diagnostic, ...] = ()):
        self.diagnostics = tuple(diagnostics)
        super().__init__(message)
