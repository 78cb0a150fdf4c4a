"""A small writer of the Arrow IPC streaming format, for `POST /query` answered without
`accept: application/json` (what Restate's CLI reads for counts and `restate sql`).

It writes one schema message, one record batch and the end-of-stream marker, for columns of
64-bit integers, doubles, booleans, UTF-8 strings and binary values, each nullable. The
flatbuffers of the messages are laid out front to back: a table's vtable just before it, and the
objects it points to after it (a flatbuffer offset must point forward; a vtable may lie anywhere).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

_CONTINUATION = b"\xff\xff\xff\xff"
_METADATA_V5 = 4
_HEADER_SCHEMA = 1
_HEADER_RECORD_BATCH = 3


class ArrowType(Enum):
    """The column types written, with their number in the flatbuffers `Type` union."""

    INT64 = 2
    FLOAT64 = 3
    BINARY = 4
    UTF8 = 5
    BOOL = 6


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ArrowType
    values: Sequence[Any]  # None for a null


# A field of a table: (slot, struct format of a scalar, value), or (slot, None, writer of an
# object the field points to, which returns where it wrote it).
Writer = Callable[[], int]
TableField = tuple[int, str | None, Any]


class _Flatbuffer:
    def __init__(self) -> None:
        self.buf = bytearray(4)  # the root offset, patched by finish

    def _pad(self, align: int, shift: int = 0) -> None:
        while (len(self.buf) + shift) % align:
            self.buf.append(0)

    def finish(self, root: Writer) -> bytes:
        struct.pack_into("<I", self.buf, 0, root())
        self._pad(8)
        return bytes(self.buf)

    def _point(self, at: int, target: int) -> None:
        struct.pack_into("<I", self.buf, at, target - at)

    def table(self, fields: Sequence[TableField]) -> Writer:
        def write() -> int:
            # inline layout: the vtable offset (4 bytes), then the fields, largest first
            layout: list[tuple[int, int, str | None, Any]] = []  # (slot, offset, format, value)
            cursor = 4
            for slot, fmt, value in sorted(fields, key=lambda f: -_size(f[1])):
                size = _size(fmt)
                cursor = -(-cursor // size) * size
                layout.append((slot, cursor, fmt, value))
                cursor += size
            table_size = -(-cursor // 4) * 4
            slots = [0] * (max((f[0] for f in fields), default=-1) + 1)
            for slot, offset, _, _ in layout:
                slots[slot] = offset
            self._pad(2)
            vtable = len(self.buf)
            self.buf += struct.pack(f"<HH{len(slots)}H", 4 + 2 * len(slots), table_size, *slots)
            self._pad(8)
            start = len(self.buf)
            self.buf += bytes(table_size)
            struct.pack_into("<i", self.buf, start, start - vtable)
            pointers: list[tuple[int, Writer]] = []
            for _, offset, fmt, value in layout:
                if fmt is None:
                    pointers.append((start + offset, value))
                else:
                    struct.pack_into("<" + fmt, self.buf, start + offset, value)
            for at, child in pointers:
                self._point(at, child())
            return start

        return write

    def string(self, text: str) -> Writer:
        def write() -> int:
            data = text.encode()
            self._pad(4)
            start = len(self.buf)
            self.buf += struct.pack("<I", len(data)) + data + b"\0"
            return start

        return write

    def tables(self, items: Sequence[Writer]) -> Writer:
        def write() -> int:
            self._pad(4)
            start = len(self.buf)
            self.buf += struct.pack("<I", len(items)) + bytes(4 * len(items))
            for i, item in enumerate(items):
                self._point(start + 4 + 4 * i, item())
            return start

        return write

    def structs(self, items: Sequence[tuple[int, int]]) -> Writer:
        """A vector of structs of two longs (FieldNode, Buffer), aligned to 8."""

        def write() -> int:
            self._pad(8, shift=4)
            start = len(self.buf)
            self.buf += struct.pack("<I", len(items))
            for a, b in items:
                self.buf += struct.pack("<qq", a, b)
            return start

        return write


def _size(fmt: str | None) -> int:
    return 4 if fmt is None else struct.calcsize("<" + fmt)


def _message(header_type: int, header: Callable[[_Flatbuffer], Writer], body: bytes) -> bytes:
    fb = _Flatbuffer()
    message = fb.table(
        [(0, "h", _METADATA_V5), (1, "B", header_type), (2, None, header(fb)), (3, "q", len(body))]
    )
    metadata = fb.finish(message)
    return _CONTINUATION + struct.pack("<i", len(metadata)) + metadata + body


def _schema(columns: Sequence[Column]) -> Callable[[_Flatbuffer], Writer]:
    def header(fb: _Flatbuffer) -> Writer:
        fields = []
        for column in columns:
            match column.type:
                case ArrowType.INT64:
                    type_table = fb.table([(0, "i", 64), (1, "B", 1)])
                case ArrowType.FLOAT64:
                    type_table = fb.table([(0, "h", 2)])  # DOUBLE
                case _:
                    type_table = fb.table([])
            fields.append(
                fb.table(
                    [
                        (0, None, fb.string(column.name)),
                        (1, "B", 1),  # nullable
                        (2, "B", column.type.value),
                        (3, None, type_table),
                        (5, None, fb.tables([])),  # children
                    ]
                )
            )
        return fb.table([(0, "h", 0), (1, None, fb.tables(fields))])  # little-endian

    return header


def _bitmap(flags: Sequence[bool]) -> bytes:
    out = bytearray((len(flags) + 7) // 8)
    for i, flag in enumerate(flags):
        if flag:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _buffers(column: Column) -> list[bytes]:
    values = column.values
    validity = _bitmap([v is not None for v in values])
    match column.type:
        case ArrowType.INT64:
            return [validity, struct.pack(f"<{len(values)}q", *(0 if v is None else int(v) for v in values))]
        case ArrowType.FLOAT64:
            data = struct.pack(f"<{len(values)}d", *(0.0 if v is None else float(v) for v in values))
            return [validity, data]
        case ArrowType.BOOL:
            return [validity, _bitmap([bool(v) for v in values])]
        case ArrowType.UTF8 | ArrowType.BINARY:
            chunks = [b"" if v is None else v if isinstance(v, bytes) else str(v).encode() for v in values]
            offsets = [0]
            for chunk in chunks:
                offsets.append(offsets[-1] + len(chunk))
            return [validity, struct.pack(f"<{len(offsets)}i", *offsets), b"".join(chunks)]


def _record_batch(columns: Sequence[Column]) -> bytes:
    rows = len(columns[0].values) if columns else 0
    body = bytearray()
    buffers: list[tuple[int, int]] = []
    nodes: list[tuple[int, int]] = []
    for column in columns:
        nodes.append((rows, sum(v is None for v in column.values)))
        for data in _buffers(column):
            buffers.append((len(body), len(data)))
            body += data + bytes(-len(data) % 8)

    def header(fb: _Flatbuffer) -> Writer:
        return fb.table([(0, "q", rows), (1, None, fb.structs(nodes)), (2, None, fb.structs(buffers))])

    return _message(_HEADER_RECORD_BATCH, header, bytes(body))


def ipc_stream(columns: Sequence[Column]) -> bytes:
    """The columns (all of the same length) as an Arrow IPC stream of one record batch."""
    return (
        _message(_HEADER_SCHEMA, _schema(columns), b"")
        + _record_batch(columns)
        + _CONTINUATION
        + struct.pack("<i", 0)
    )
