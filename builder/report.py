"""What the user sees in the terminal: errors, progress and summaries.

Build logic never prints; it returns results and calls a progress callback, and this
module turns those into text. Progress bars are drawn only on a terminal, so CI logs and
pipes stay quiet.
"""

from __future__ import annotations

import sys
from typing import TextIO

from builder.errors import ContentError, GazetteError


def print_error(exc: GazetteError, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    for diagnostic in getattr(exc, "diagnostics", ()):
        print(diagnostic, file=stream)
    if not isinstance(exc, ContentError) or not exc.diagnostics:
        print(f"gazette: error: {exc}", file=stream)
    else:
        print(f"gazette: {exc}", file=stream)
