"""streamproc: Kafka/HTTP events validated against data contracts, landed exactly once in Delta Lake with lineage."""

__version__ = "0.1.0"
