"""Sources: where raw events come from (Kafka, files; HTTP later), behind one protocol."""

from __future__ import annotations

from streamproc.config import FileSourceConfig, KafkaSourceConfig, PipelineConfig
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
    raise TypeError(f"no source for {type(source).__name__}")


def consumer_group_of(config: PipelineConfig) -> str:
    """The name under which the Delta log records this pipeline's positions."""
    return config.source.consumer_group
