"""Operations beside a run: moving and showing positions (:mod:`.positions`, through :mod:`streamproc.sinks.txn`),
producing a file into a topic (:mod:`.replay`), and inspecting and replaying quarantines (:mod:`.quarantine`)."""
