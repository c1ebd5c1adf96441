"""streamproc: Kafka/HTTP events validated against data contracts, landed exactly once in Delta Lake with lineage.

The package itself imports nothing heavy: ``import streamproc`` stays cheap for the CLI and for scripts that only
read tables. :func:`read_table`, :func:`read_quarantine` and :func:`read_loads` (from :mod:`streamproc.reading`)
load pyarrow and deltalake on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamproc.reading import read_loads, read_quarantine, read_table

__version__ = "0.1.0"

__all__ = ["read_table", "read_quarantine", "read_loads", "__version__"]

_LAZY = {"read_table", "read_quarantine", "read_loads"}


def __getattr__(name: str) -> Any:
    # PEP 562: the readers are imported when first asked for, not by ``import streamproc``
    if name in _LAZY:
        from streamproc import reading

        return getattr(reading, name)
    raise AttributeError(f"module 'streamproc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
