"""``python -m builder`` is the same as the ``gazette`` command."""

import sys

from builder.cli import main

sys.exit(main())
