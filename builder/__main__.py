"""``python -m builder`` is the same as the ``gazette`` command."""

import signal
import sys

from builder.cli import main

try:
    status = main()
except KeyboardInterrupt:  # Ctrl-C after the command had finished, just before exiting
    print("gazette: interrupted", file=sys.stderr)
    status = 130
# The work is done and reported: a Ctrl-C during interpreter shutdown changes nothing, and
# must not turn a finished build into a death by signal.
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.exit(status)
