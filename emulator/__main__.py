"""``python -m emulator deploy|purge|delete``: the stack on a moto server (see ``emulator.cli.main``).

The same as ``python -m emulator.stack``, without runpy's warning about a module the package
has already imported.
"""

from __future__ import annotations

import sys

from emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
