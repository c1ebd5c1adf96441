"""Making a new or renamed directory entry durable: what the write-ahead log and the lineage outbox both need after
creating or renaming a file (fsyncing the file alone does not persist its name, POSIX fsync(2))."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir"]


def fsync_dir(directory: Path) -> None:
    """Make a new or renamed entry of ``directory`` durable.

    Raises:
        OSError: the directory cannot be opened or synced.
    """
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
