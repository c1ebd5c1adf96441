"""The decoder's buffers as Arrow arrays, and the per-field fallback values validated on the way.

Fixed-width, text, list, map and struct arrays are put together from the decoder's buffers without copying
(``pyarrow.Array.from_buffers``). A raw builder's values (a per-field fallback, or ``Any`` inside a container) are
validated and converted in Python, one value at a time; a value pydantic refuses, or one its column cannot hold,
marks its event for the per-row path (its slot is mapped back to the event through the list offsets above it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from contracts.fast.tree import Out

__all__ = ["Decoded", "assemble", "decode_table"]

Buffers = tuple[Any, ...]  # (length, null count, validity or None, *buffers): see contracts/native/src/builders.rs


@dataclass(frozen=True, slots=True)
class Decoded:
    """A chunk decoded into rows.

    Attributes:
        table: the rows of the events that landed, in order.
        landed: their positions in the chunk (ascending).
        rest: the positions of the others (ascending).
    """

    table: pa.Table
    landed: np.ndarray
    rest: np.ndarray


def decode_table(
    decoder: Any, root: Out, schema: pa.Schema, events: list[bytes | None],
    extra: Callable[[list[pa.Array]], tuple[list[pa.Array], np.ndarray]] | None = None,
) -> Decoded:
    """Decode a chunk of events with the native ``decoder`` into rows of ``schema``: the clean events' columns
    (``extra`` adds columns computed from them, and events it cannot compute for), less the events a per-field
    fallback or ``extra`` refused."""
    flags, buffers = decoder.decode(events)
    clean = np.flatnonzero(np.frombuffer(flags, np.uint8))
    if not len(clean):
        return Decoded(schema.empty_table(), clean, np.arange(len(events)))
    columns, bad = assemble(root, buffers)
    if extra is not None:
        more, failed = extra(columns)
        columns += more
        bad = np.union1d(bad, failed)
    table = pa.Table.from_arrays(columns, schema=schema)
    if len(bad):
        keep = np.ones(len(clean), bool)
        keep[bad] = False
        table = table.filter(pa.array(keep))
        clean = clean[keep]
    landed = np.zeros(len(events), bool)
    landed[clean] = True
    return Decoded(table, clean, np.flatnonzero(~landed))


def assemble(root: Out, buffers: list[Buffers]) -> tuple[list[pa.Array], np.ndarray]:
    """The event struct's columns, and the positions (among the decoded clean events) of events a fallback value
    sent to the per-row path (sorted, unique)."""
    assembly = _Assembly(buffers)
    columns = [assembly.array(child) for child in root.children]
    bad = [assembly.rows(out, np.asarray(slots)) for out, slots in assembly.bad.items()]
    return columns, np.unique(np.concatenate(bad)) if bad else np.empty(0, np.int64)


def _bits(data: bytes | None, length: int) -> np.ndarray:
    if data is None:
        return np.ones(length, bool)
    return np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")[:length].astype(bool)


class _Assembly:
    def __init__(self, buffers: list[Buffers]) -> None:
        self.buffers = buffers
        self.bad: dict[Out, list[int]] = {}

    def array(self, out: Out) -> pa.Array:
        length, nulls, validity, *data = self.buffers[out.builder]
        valid = None if validity is None else pa.py_buffer(validity)
        if out.kind == "struct":
            children = [self.array(child) for child in out.children]
            return pa.Array.from_buffers(out.arrow, length, [valid], nulls, children=children)
        if out.kind == "offsets":
            child = self.array(out.children[0])
            return pa.Array.from_buffers(out.arrow, length, [valid, pa.py_buffer(data[0])], nulls, children=[child])
        if out.kind == "raw":
            return self.raw(out, length, validity, data)
        return pa.Array.from_buffers(out.arrow, length, [valid, *map(pa.py_buffer, data)], nulls)

    def raw(self, out: Out, length: int, validity: bytes | None, data: list[bytes]) -> pa.Array:
        offsets = np.frombuffer(data[0], np.int32).tolist()
        text, missing = data[1], _bits(data[2], length)
        valid = _bits(validity, length)
        convert = out.raw
        if convert is None:
            raise RuntimeError(f"raw builder {out.builder} without a converter")  # a bug of plan.py
        values: list[Any] = [None] * length
        bad: list[int] = []
        for i in range(length):
            if valid[i]:
                raw: bytes | None = text[offsets[i]:offsets[i + 1]]
            elif missing[i]:
                raw = None
            else:
                continue  # a null parent
            try:
                values[i] = convert(raw)
            except Exception:  # noqa: BLE001 - pydantic refuses it (or its validator raises): pydantic judges the event
                bad.append(i)
        try:
            array = pa.array(values, out.arrow)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            array = self._fitting(out, values, bad)
        if bad:
            self.bad[out] = bad
        return array

    @staticmethod
    def _fitting(out: Out, values: list[Any], bad: list[int]) -> pa.Array:
        """The values with those their column cannot hold (a number beyond it) taken out and marked bad."""
        for i, value in enumerate(values):
            if value is None:
                continue
            try:
                pa.array([value], out.arrow)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                bad.append(i)
                values[i] = None
        return pa.array(values, out.arrow)

    def rows(self, out: Out, slots: np.ndarray) -> np.ndarray:
        """The events (positions among the decoded ones) that the slots of a builder belong to."""
        while out.parent is not None:
            parent = out.parent
            if parent.kind == "offsets":
                offsets = np.frombuffer(self.buffers[parent.builder][3], np.int32)
                slots = np.searchsorted(offsets, slots, side="right") - 1
            out = parent
        return slots
