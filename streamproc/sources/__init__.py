"""Sources: where raw events come from (Kafka, files, HTTP's write-ahead log), behind one protocol."""

from __future__ import annotations

from streamproc.config import FileSourceConfig, HttpSourceConfig, KafkaSourceConfig, PipelineConfig
from streamproc.errors import SourceError
from streamproc.sources.base import Source

__all__ = ["open_source", "consumer_group_of"]


def open_source(config: PipelineConfig) -> Source:
    """Build the (not yet started) source a pipeline config names."""
    source = config.source
    if isinstance(source, KafkaSourceConfig):
        from streamproc.sources.kafka import KafkaSource

        return KafkaSource(source, client_id=f"streamproc-{config.name}")
    if isinstance(source, FileSourceConfig):
        from streamproc.sources.file import FileSource

        return FileSource(source)
    if isinstance(source, HttpSourceConfig):
        # The HTTP source is an endpoint and a write-ahead log shared by one pipeline per target: it runs as
        # streamproc.runtime.http.HttpIngestion, which hands each pipeline its log stream (a WalSource).
        raise SourceError("an HTTP source runs with its endpoint: use streamproc.runtime.runner.Runner")
    raise TypeError(f"no source for {type(source).__name__}")


def consumer_group_of(config: PipelineConfig) -> str:
    """The name under which the Delta log records this pipeline's positions."""
    return config.source.consumer_group
