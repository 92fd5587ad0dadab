"""What the user sees in the terminal: errors, progress and summaries.

Build logic never prints; it returns results and calls a progress callback, and this
module turns those into text. Progress bars are drawn only on a terminal, so CI logs and
pipes stay quiet.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from builder.errors import ContentError, GazetteError

if TYPE_CHECKING:  # the pipeline imports heavy modules; the CLI's error path must not
    from builder.pipeline import BuildResult, CheckResult


def print_error(exc: GazetteError, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    for diagnostic in getattr(exc, "diagnostics", ()):
        print(diagnostic, file=stream)
    if not isinstance(exc, ContentError) or not exc.diagnostics:
        print(f"gazette: error: {exc}", file=stream)
    else:
        print(f"gazette: {exc}", file=stream)


_BAR_WIDTH = 30


@dataclass(frozen=True, slots=True)
class Reporter:
    """Writes progress and summaries to one stream; bars only when it is a terminal."""

    stream: TextIO
    interactive: bool

    @classmethod
    def for_stream(cls, stream: TextIO) -> Reporter:
        isatty = getattr(stream, "isatty", None)
        return cls(stream=stream, interactive=bool(isatty and isatty()))

    def progress(self, stage: str, done: int, total: int) -> None:
        """Redraw the bar of ``stage``; silent when the stream is not a terminal."""
        if not self.interactive or total <= 0:
            return
        filled = _BAR_WIDTH * done // total
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{stage:<8} [{bar}] {done}/{total}{end}")
        self.stream.flush()

    def build_summary(self, result: BuildResult, profile: bool = False) -> None:
        """Every warning and skipped file, then one line: what was built, how fast."""
        for diagnostic in (*result.warnings, *result.skipped):
            print(diagnostic, file=self.stream)
        print(f"built {result.stories} stories, {result.pages} pages "
              f"({result.rendered} rendered, {result.written} written), "
              f"{len(result.skipped)} skipped in {result.seconds:.2f} s", file=self.stream)
        if profile:
            for stage, seconds in result.timings:
                share = seconds / result.seconds if result.seconds else 0.0
                print(f"  {stage:<12} {seconds:8.3f} s  {share:6.1%}", file=self.stream)

    def check_summary(self, result: CheckResult) -> None:
        for diagnostic in (*result.warnings, *result.errors):
            print(diagnostic, file=self.stream)
        for group in result.duplicates:
            print(f"wire copies of one story (earliest first): {', '.join(group)}",
                  file=self.stream)
        print(f"checked {result.stories} stories: {len(result.errors)} errors, "
              f"{len(result.warnings)} warnings, {len(result.duplicates)} duplicate groups",
              file=self.stream)
