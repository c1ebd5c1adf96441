"""Reading NDJSON files into chunks of events (streamproc.sources.formats)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from streamproc.sources import formats
from streamproc.sources.formats import iter_json_events


@pytest.mark.parametrize("name", ["events.ndjson", "events.jsonl.gz"])
def test_lines_are_stripped_blank_lines_skipped_and_chunks_cross_read_blocks(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "_BLOCK_BYTES", 100)  # many reads, lines cut at block ends
    events = [b'{"n":%d}' % i for i in range(25_000)]
    body = b"".join(e + (b"\r\n" if i % 3 else b"\n\n  ") for i, e in enumerate(events)) + b'{"n":"last"}'
    path = tmp_path / name
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    chunks = list(iter_json_events(path))
    assert [len(c) for c in chunks] == [10_000, 10_000, 5_001]
    assert [e for c in chunks for e in c] == [*events, b'{"n":"last"}']
    assert sum(map(len, iter_json_events(path, limit=12_345))) == 12_345


@pytest.mark.parametrize("name", ["events.ndjson", "events.jsonl.gz"])
def test_a_byte_order_mark_starting_the_file_is_not_part_of_the_first_event(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "_BLOCK_BYTES", 2)  # the mark is longer than a read block
    path = tmp_path / name

    def events(body: bytes) -> list[list[bytes]]:
        path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
        return list(iter_json_events(path))

    assert events(b'\xef\xbb\xbf{"n":1}\n{"n":2}\n') == [[b'{"n":1}', b'{"n":2}']]
    assert events(b'{"n":1}\n\xef\xbb\xbf{"n":2}\n') == [[b'{"n":1}', b'\xef\xbb\xbf{"n":2}']]  # only at the start
    assert events(b"\xef\xbb") == [[b"\xef\xbb"]]  # not a whole mark: an event, quarantined as malformed
