"""Operations beside a run: moving and showing positions (:mod:`.positions`, through :mod:`streamproc.sinks.txn`)
and producing a file into a topic (:mod:`.replay`)."""
