"""``python -m wce_ref`` is the ``wce`` command."""

import sys

from .cli import main

sys.exit(main())
