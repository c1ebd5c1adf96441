"""OpenLineage emission: the run's events (:mod:`.events`, :mod:`.facets`, :mod:`.naming`), the observer that emits
them live (:mod:`.observer`) through a durable outbox (:mod:`.outbox`, :mod:`.delivery`), and rebuilding them from
the lake (:mod:`.backfill`).

Kept free of imports on purpose: every run imports this package for :func:`lineage_observers`, while the OpenLineage
client and its transports (~15 MiB resident: ``openlineage-python``, ``requests``, ``httpx``) are only for runs that
enable ``lineage:``; :func:`lineage_observers` imports them only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamproc.config import PipelineConfig
    from streamproc.observe.observer import PipelineObserver

__all__ = ["lineage_observers"]


def lineage_observers(config: PipelineConfig) -> list[PipelineObserver]:
    """The observers ``lineage:`` asks for: one :class:`~streamproc.observe.openlineage.observer.OpenLineageObserver`
    when ``lineage.enabled``, else none (and then the OpenLineage client is not imported).

    Raises:
        ConfigError: ``lineage.enabled`` while openlineage-python's configuration names no transport (a
            :class:`~streamproc.observe.openlineage.transport.NoTransportError`: the events would only be printed
            and counted as delivered), or cannot be used. Call it before anything is created.
    """
    if not config.lineage.enabled:
        return []
    from streamproc.observe.openlineage.observer import OpenLineageObserver  # lazily: see the module docstring

    return [OpenLineageObserver(config)]
