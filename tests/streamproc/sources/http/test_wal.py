"""The write-ahead log on real files: contiguous offsets across segments, recovery from a torn tail, refusing a
damaged sealed segment, release of landed segments, and one process per folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamproc.sources.http.wal import StreamLog, WalBusyError, WalCorruptError, WriteAheadLog


def _events(start: int, count: int) -> list[bytes]:
    return [f'{{"n":{i}}}'.encode() for i in range(start, start + count)]


def _read_all(log: StreamLog, offset: int, *, step: int = 7) -> list[int]:
    offsets = []
    while records := log.read(offset, max_records=step):
        offsets += [r.offset for r in records]
        offset = records[-1].offset + 1
    return offsets


def test_offsets_are_contiguous_across_segments_and_survive_reopening(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1_000)
    log = wal.stream("tracks", 0)
    firsts = [log.append(_events(i * 10, 10), timestamp_ms=1_000 + i) for i in range(20)]
    assert firsts == list(range(0, 200, 10))
    assert len(list((tmp_path / "tracks-0").glob("*.wal"))) > 3
    assert _read_all(log, 0) == list(range(200))
    assert [r.payload for r in log.read(123, max_records=2)] == [b'{"n":123}', b'{"n":124}']
    assert log.read(123, max_records=1)[0].timestamp_ms == 1_012
    wal.close()

    reopened = WriteAheadLog(tmp_path, segment_bytes=1_000).stream("tracks", 0)
    assert reopened.next_offset == 200
    assert reopened.append(_events(200, 1), timestamp_ms=0) == 200
    assert _read_all(reopened, 150) == list(range(150, 201))


def test_a_torn_tail_is_truncated_and_its_offsets_reused(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1 << 20)
    log = wal.stream("tracks", 0)
    log.append(_events(0, 5), timestamp_ms=0)
    wal.close()
    segment = next((tmp_path / "tracks-0").glob("*.wal"))
    intact = segment.stat().st_size
    with segment.open("ab") as handle:  # a write the process died in: never fsynced, never acknowledged
        handle.write(b"\x40\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00half a rec")

    log = WriteAheadLog(tmp_path, segment_bytes=1 << 20).stream("tracks", 0)
    assert segment.stat().st_size == intact
    assert log.next_offset == 5
    assert log.append(_events(5, 1), timestamp_ms=0) == 5
    assert _read_all(log, 0) == list(range(6))


def test_damage_inside_acknowledged_records_is_refused(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=200)
    log = wal.stream("tracks", 0)
    for i in range(10):
        log.append(_events(i * 3, 3), timestamp_ms=0)
    first = sorted((tmp_path / "tracks-0").glob("*.wal"))[0]
    data = bytearray(first.read_bytes())
    data[8 + 24 + 2] ^= 0xFF  # a flipped byte in the first record's payload (after the magic and header)
    first.write_bytes(bytes(data))
    with pytest.raises(WalCorruptError, match="damaged record"):
        log.read(0, max_records=100)


def test_release_deletes_landed_segments_but_keeps_the_active_one(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path, segment_bytes=300).stream("tracks", 0)
    for i in range(12):
        log.append(_events(i * 5, 5), timestamp_ms=0)
    segments = sorted(int(p.stem) for p in (tmp_path / "tracks-0").glob("*.wal"))
    backlog = log.backlog_bytes
    assert log.release(segments[2]) == 2  # the first two segments hold only offsets below it
    assert log.first_offset == segments[2]
    assert 0 < log.backlog_bytes < backlog
    log.release(log.next_offset)
    assert [int(p.stem) for p in (tmp_path / "tracks-0").glob("*.wal")] == [segments[-1]]
    assert log.backlog_bytes == 0
    with pytest.raises(WalCorruptError, match="released"):
        log.read(0, max_records=1)


def test_advance_skips_offsets_the_table_already_has(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path, segment_bytes=1 << 20).stream("tracks", 0)
    log.append(_events(0, 3), timestamp_ms=0)
    log.advance_to(1_000)
    assert log.append(_events(3, 2), timestamp_ms=0) == 1_000
    assert _read_all(log, 0) == [0, 1, 2, 1_000, 1_001]
    assert [r.offset for r in log.read(500, max_records=10)] == [1_000, 1_001]


def test_one_process_per_folder(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1 << 20)
    with pytest.raises(WalBusyError):
        WriteAheadLog(tmp_path, segment_bytes=1 << 20)
    wal.close()
    WriteAheadLog(tmp_path, segment_bytes=1 << 20).close()
