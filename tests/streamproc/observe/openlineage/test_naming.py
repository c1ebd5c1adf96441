"""Dataset names after the OpenLineage naming spec (openlineage-python's naming module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamproc.observe.openlineage.naming import DatasetId, dataset_of_location, dataset_of_source


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/lake/flights", DatasetId("file", "/lake/flights")),
        ("file:///lake/flights/", DatasetId("file", "/lake/flights")),
        ("s3://bucket/lake/flights", DatasetId("s3://bucket", "lake/flights")),
        ("s3a://bucket/lake/flights", DatasetId("s3://bucket", "lake/flights")),
        ("gs://bucket/lake/flights", DatasetId("gs://bucket", "lake/flights")),
        (
            "abfss://lake@account.dfs.core.windows.net/tables/flights",
            DatasetId("abfss://lake@account.dfs.core.windows.net", "tables/flights"),
        ),
    ],
)
def test_table_locations(location: str, expected: DatasetId) -> None:
    assert dataset_of_location(location) == expected


def test_a_relative_path_is_made_absolute() -> None:
    assert dataset_of_location("lake/flights") == DatasetId("file", str(Path("lake/flights").absolute()))


def test_sources() -> None:
    assert dataset_of_source("kafka://127.0.0.1:9092/flights") == DatasetId("kafka://127.0.0.1:9092", "flights")
    assert dataset_of_source("file:///data/flights.ndjson") == DatasetId("file", "/data/flights.ndjson")
    with pytest.raises(ValueError, match="kafka://host:port/topic"):
        dataset_of_source("kafka://broker/flights")
    with pytest.raises(ValueError, match="no bucket"):
        dataset_of_location("s3://bucket")
