"""``python -m edxml``: see edxml/_cli.py."""

import sys

from ._cli import main

sys.exit(main())
