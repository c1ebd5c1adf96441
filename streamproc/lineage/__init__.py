"""Lineage: the columns on every landed row, the ``_loads`` table, and the run's OpenLineage events.

Kept free of imports on purpose: :mod:`streamproc.landing` imports :mod:`streamproc.lineage.columns` on every run,
while the OpenLineage client and its transports (~15 MiB resident: ``openlineage-python``, ``requests``, ``httpx``)
are only for runs that enable ``lineage:``; :func:`lineage_observers` imports them only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamproc.config import PipelineConfig
    from streamproc.observers import PipelineObserver

__all__ = ["lineage_observers"]


def lineage_observers(config: PipelineConfig) -> list[PipelineObserver]:
    """The observers ``lineage:`` asks for: one :class:`~streamproc.lineage.observer.OpenLineageObserver` when
    ``lineage.enabled``, else none (and then the OpenLineage client is not imported)."""
    if not config.lineage.enabled:
        return []
    from streamproc.lineage.observer import OpenLineageObserver  # lazily: see the module docstring

    return [OpenLineageObserver(config)]
