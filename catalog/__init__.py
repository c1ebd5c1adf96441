"""The streamproc catalog: stores OpenLineage events and answers lineage, schema history, PII and load questions.

Talks to the runtime only over HTTP (OpenLineage events in, JSON out); must not import ``streamproc``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
