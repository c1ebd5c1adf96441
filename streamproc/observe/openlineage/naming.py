"""OpenLineage dataset names of streamproc's sources and tables, after the OpenLineage naming spec.

The spec's rules come from openlineage-python's own :mod:`openlineage.client.naming.dataset`:

=====================================  ==============================================  =========================
location                               namespace                                       name
=====================================  ==============================================  =========================
Kafka topic ``kafka://host:port/t``    ``kafka://host:port`` (first bootstrap server)  ``t``
local path ``/lake/t``, ``file:///…``  ``file``                                        ``/lake/t`` (absolute)
``s3://bucket/key`` (s3a, s3n)         ``s3://bucket``                                 ``key``
``gs://bucket/key``                    ``gs://bucket``                                 ``key``
``abfss://c@a.dfs.core.windows.net/p``  ``abfss://c@a.dfs.core.windows.net``           ``p``
any other ``scheme://authority/path``  ``scheme://authority``                          ``path``
=====================================  ==============================================  =========================
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from openlineage.client.naming.dataset import GCS, S3, DatasetNaming, Kafka, LocalFileSystem

__all__ = ["DatasetId", "dataset_of_location", "dataset_of_source"]


class DatasetId(NamedTuple):
    """An OpenLineage dataset identity."""

    namespace: str
    name: str


def _id(naming: DatasetNaming) -> DatasetId:
    return DatasetId(naming.get_namespace(), naming.get_name())


def dataset_of_location(location: str) -> DatasetId:
    """The dataset of a table location: a local path, a ``file://`` URL or an object-store URL.

    Raises:
        ValueError: an object-store URL without a bucket or a path.
    """
    if "://" not in location:
        return _id(LocalFileSystem(path=str(Path(location).absolute())))
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    path = unquote(parts.path)
    if scheme == "file":
        return _id(LocalFileSystem(path=path.rstrip("/") or "/"))
    key = path.strip("/")
    if not parts.netloc or not key:
        raise ValueError(f"{location!r} names no bucket and path")
    if scheme in ("s3", "s3a", "s3n"):
        return _id(S3(bucket_name=parts.netloc, object_key=key))
    if scheme == "gs":
        return _id(GCS(bucket_name=parts.netloc, object_key=key))
    return DatasetId(f"{scheme}://{parts.netloc}", key)


def dataset_of_source(source_uri: str) -> DatasetId:
    """The dataset of a ``_source`` URI (:attr:`streamproc.sources.base.Source.source_uris`).

    ``kafka://host:port/topic`` is the topic; ``file:///path`` is the file.

    Raises:
        ValueError: a Kafka URI without host, port or topic.
    """
    parts = urlsplit(source_uri)
    if parts.scheme == "kafka":
        topic = unquote(parts.path.lstrip("/"))
        if not parts.hostname or parts.port is None or not topic:
            raise ValueError(f"{source_uri!r} is not kafka://host:port/topic")
        return _id(Kafka(bootstrap_server_host=parts.hostname, port=str(parts.port), topic=topic))
    return dataset_of_location(source_uri)
