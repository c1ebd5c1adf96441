"""Around a run, out of the data path: the observer protocol (:mod:`.observer`), the run's summary
(:mod:`.summary`), Prometheus metrics (:mod:`.metrics`, :mod:`.prometheus`), readiness and the ``/metrics`` +
probes endpoint (:mod:`.readiness`, :mod:`.endpoint`), and OpenLineage emission (:mod:`.openlineage`)."""
