"""The contract stage of landing: applying contracts to micro-batches (:mod:`.stage`), splitting a batch by route
(:mod:`.routing`), preparing every table's rows without touching a table (:mod:`.prepare`), and validating in worker
processes (:mod:`.pool`)."""
