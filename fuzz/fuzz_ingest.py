"""Atheris fuzz target for :func:`builder.ingest.parse_bytes`, the ingest entry point.

The contract under test: whatever bytes a story file holds, ``parse_bytes`` returns a
``FileResult`` — stories, or Diagnostics naming the file — and never raises, never returns
a story whose slug or path could break the site, and never an error without a message.

Run it (crashes are written to the current directory as ``crash-<sha1>``; copy each into
``tests/fixtures/fuzz/`` so ``tests/test_fuzz_regressions.py`` replays it for ever)::

    PYTHONPATH=. python fuzz/fuzz_ingest.py /tmp/corpus tests/fixtures/fuzz -max_total_time=300

(new inputs go to the first folder, so the fixtures stay the seeds and the crashes.)
"""

from __future__ import annotations

import contextlib
import sys

try:
    import atheris
except ImportError:  # the regression test replays the fixtures without the fuzzer
    atheris = None

# Coverage feedback for Gazette's own code only: instrumenting every library it imports
# would slow each run several-fold without finding Gazette's bugs any faster.
with (atheris.instrument_imports(include=["builder"]) if atheris else contextlib.nullcontext()):
    from builder import ingest
    from builder.config import SiteConfig
    from builder.errors import Diagnostic
    from builder.urls import SLUG_PATTERN

CONFIG = SiteConfig()
"""Defaults; built once so each run measures parsing, not configuration."""
RELPATH = "politics/000_0123456789abcdef.txt"
"""A seed-style name, so the id and topic logic run as they do on a real archive."""


def check_file_result(data: bytes) -> None:
    """Parse ``data`` and assert the FileResult contract; raise AssertionError if broken."""
    result = ingest.parse_bytes(data, RELPATH, CONFIG)
    assert isinstance(result, ingest.FileResult)
    for diagnostic in result.diagnostics:
        assert isinstance(diagnostic, Diagnostic), diagnostic
        assert diagnostic.path.endswith(RELPATH), diagnostic
        assert diagnostic.message.strip(), diagnostic
        assert diagnostic.line is None or diagnostic.line >= 1, diagnostic
    if not result.stories:
        # Nothing published must never be silent: at least one error says why.
        assert any(d.is_error for d in result.diagnostics), result
    for story in result.stories:
        assert SLUG_PATTERN.fullmatch(story.slug) and len(story.slug) <= 80, story.slug
        assert story.title.strip(), story
        assert story.path.startswith(RELPATH), story.path


def test_one_input(data: bytes) -> None:
    check_file_result(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
