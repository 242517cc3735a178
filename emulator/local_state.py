"""Where the tooling keeps what it may reuse between runs: this user's folder under the system's temp.

The folder holds the emulator ``make invoke-local`` keeps between calls (its socket and log) and
the SAM transform's results (keyed by the template's bytes). Nothing in it is needed: removing
it costs the next run the time it saved.

Example:
    ```python
    state_dir("sam-transform")    # /tmp/lambda-batch-1000/sam-transform
    ```
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def state_dir(*parts: str) -> Path:
    """``<temp>/lambda-batch-<uid>/<parts>``, made when missing; `PermissionError` unless the user's alone."""
    root = Path(tempfile.gettempdir()) / f"lambda-batch-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    info = root.lstat()  # a symbolic link planted there is refused, not followed
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{root} must belong to this user alone (mode 700): remove it, it is rebuilt")
    folder = root.joinpath(*parts)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder
