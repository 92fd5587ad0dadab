"""``python -m builder`` is the same as the ``gazette`` command."""

import sys

from builder.cli import main

try:
    status = main()
except KeyboardInterrupt:  # Ctrl-C after the command had finished, just before exiting
    print("gazette: interrupted", file=sys.stderr)
    status = 130
sys.exit(status)
