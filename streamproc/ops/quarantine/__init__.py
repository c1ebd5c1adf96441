"""Acting on a quarantine: inspect it (:mod:`.show`), and replay what a fixed contract now accepts, exactly once
(:mod:`.replay`): ``streamproc quarantine show | replay``.

:mod:`.rows` reads a quarantine table and its resolutions (each row's state) with the filters both commands share;
:mod:`.sources` says which quarantine tables a replay reads and has anything to do in; :mod:`.targets` opens the
tables it replays into; :mod:`.judge` re-validates quarantined events against a contract as it is now; :mod:`.report`
is what a replay reports. The exactly-once protocol of a replay is :mod:`streamproc.sinks.txn`'s, committed by
:mod:`streamproc.sinks.replay_commit`; the resolutions table is :mod:`streamproc.sinks.resolutions`.
"""
