"""``python -m wce_ref`` is the ``wce`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
