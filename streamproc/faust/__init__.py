"""Faust (faust-streaming) integration: a Faust agent validates its stream against a contract and lands it in Delta
with streamproc's batching, quarantine, lineage columns, ``_loads`` rows, exactly-once positions and observers.

Install with ``pip install 'streamproc[faust]'``. See :class:`DeltaSink` (what an agent calls) and
:class:`FaustSource` (how Faust's consumer becomes a pipeline source), and ``examples/faust/``.
"""

from __future__ import annotations

try:
    import faust  # noqa: F401 - fail early, with the way out
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("streamproc.faust needs faust-streaming: pip install 'streamproc[faust]'") from exc

from streamproc.faust.settings import app_settings
from streamproc.faust.sink import DeltaSink
from streamproc.faust.source import FaustSource

__all__ = ["DeltaSink", "FaustSource", "app_settings"]
