"""Lake lineage: what the lake itself records of every load, with no service involved.

:mod:`~streamproc.lineage.columns` (the lineage columns on every landed row) and :mod:`~streamproc.lineage.loads`
(the ``_loads`` table, and the metadata each commit carries). OpenLineage events built from them are
:mod:`streamproc.observe.openlineage`'s.
"""
