"""Running pipelines: the one runner for every source (:mod:`.runner`; the HTTP source's part :mod:`.http`, its
servers :mod:`.serve`), the pipeline's stage loops (:mod:`.pipeline`), partition ownership (:mod:`.ownership`), the
checkpoint (:mod:`.checkpoint`), ``--until-caught-up`` (:mod:`.caught_up`), building the parts from the config
(:mod:`.build`) and the process's memory settings (:mod:`.memory`)."""
