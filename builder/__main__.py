"""``python -m builder`` is the same as the ``gazette`` command."""

try:
    from builder.cli import run
except KeyboardInterrupt:  # Ctrl-C while the command was still loading
    import os
    import sys

    print("gazette: interrupted", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)  # see builder.cli.run: a plain exit could still end by SIGINT
run()
