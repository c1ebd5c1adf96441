"""The Kafka source: a consumer-group member (:mod:`.consumer`), the cluster requests besides consuming
(:mod:`.admin`), and aiokafka's errors translated once (:mod:`.errors`)."""

from streamproc.sources.kafka.consumer import KafkaSource, kafka_source_uri

__all__ = ["KafkaSource", "kafka_source_uri"]
