"""What the ingest parsers report, before it is tied to a file.

Parsers are pure functions of text: they know line numbers but not which file they read.
They return :class:`Problem` values (warnings) or raise :class:`Unreadable` (the one error
that stops a file or record); :func:`builder.ingest.parse_bytes` turns both into
:class:`~builder.errors.Diagnostic` values naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.errors import Diagnostic, Severity


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about the text being parsed, without its file."""

    line: int | None
    """1-based line in the file (after any BOM), or None."""
    message: str
    hint: str = ""
    severity: Severity = "warning"

    def shifted(self, offset: int) -> Problem:
        """The same problem in a record that starts ``offset`` lines into its file."""
        if self.line is None:
            return self
        return Problem(self.line + offset, self.message, self.hint, self.severity)

    def diagnostic(self, path: str) -> Diagnostic:
        return Diagnostic(path, self.line, self.message, self.hint, self.severity)


class Unreadable(Exception):
    """The file or record cannot become a story; carries the one error that says why."""

    def __init__(self, line: int | None, message: str, hint: str):
        super().__init__(message)
        self.problem = Problem(line, message, hint, "error")
