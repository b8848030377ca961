"""``python -m cli``: the ``techscout`` command."""

import sys

from cli import main

sys.exit(main())
