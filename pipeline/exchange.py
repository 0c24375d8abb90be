"""Shuffles through scratch files: memory bounded by one task's data on any runner.

A Beam GroupByKey on the DirectRunner keeps every element it shuffles in the
runner's own process, so a stage whose shuffle carries the corpus (tfrecords:
every sentence, then every example) needs memory in proportion to the corpus.
Here a producer task writes its output as one scratch file of blocks, one block
per partition, and passes on only a `BlockFile` (the path and the blocks'
offsets); the consumer of partition p reads block p of every file with a
ranged read. The runner's process holds the offsets, a worker holds one
producer's output or one partition. Everything goes through Beam FileSystems,
so the scratch may be on gs://; on Dataflow this is one write and one read of
the data instead of the shuffle service.

Files are named by the producer's task, so a retried bundle overwrites its own
file; the stage deletes the scratch folder when it has finished.
"""

from __future__ import annotations

import dataclasses
import pickle
import struct
from array import array
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

UNCOMPRESSED = CompressionTypes.UNCOMPRESSED

# Concurrent block reads per consumer: on gs:// each is a ranged request
# whose latency, not bandwidth, is the cost.
READ_THREADS = 8


@dataclasses.dataclass(frozen=True)
class BlockFile:
    """A scratch file of `partitions` blocks; block p is bytes [offsets[p], offsets[p + 1])."""

    path: str
    offsets: bytes  # array("q") of partitions + 1 byte offsets, machine order

    @property
    def partitions(self) -> int:
        return len(self.offsets) // 8 - 1

    def block_range(self, partition: int) -> tuple[int, int]:
        if not 0 <= partition < self.partitions:
            raise IndexError(f"{self.path}: partition {partition} of {self.partitions}")
        offsets = array("q")
        offsets.frombytes(self.offsets[partition * 8 : partition * 8 + 16])
        return offsets[0], offsets[1]


def write_blocks(path: str, blocks: Mapping[int, bytes], partitions: int) -> BlockFile:
    """Write `blocks` ({partition: bytes}; missing partitions are empty) to `path`."""
    offsets = array("q", [0])
    with FileSystems.create(path, compression_type=UNCOMPRESSED) as out:
        for partition in range(partitions):
            data = blocks.get(partition, b"")
            if data:
                out.write(data)
            offsets.append(offsets[-1] + len(data))
    unknown = set(blocks) - set(range(partitions))
    if unknown:
        raise ValueError(f"{path}: partitions {sorted(unknown)[:5]} outside 0..{partitions - 1}")
    return BlockFile(path, offsets.tobytes())


_FILESYSTEMS: dict = {}


def _filesystem(path: str):
    # FileSystems.open looks the scheme's class up among every FileSystem
    # subclass on each call: ~10 us, more than a small local read.
    scheme = FileSystems.get_scheme(path)
    if scheme not in _FILESYSTEMS:
        _FILESYSTEMS[scheme] = FileSystems.get_filesystem(path)
    return _FILESYSTEMS[scheme]


def read_range(path: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of the file at `path` (one ranged read)."""
    filesystem = _filesystem(path)
    with filesystem.open(path, compression_type=UNCOMPRESSED) as f:
        f.seek(start)
        data = f.read(end - start)
    if len(data) != end - start:
        raise OSError(f"{path}: bytes {start}-{end} give {len(data)} bytes, expected {end - start}")
    return data


def read_block(block_file: BlockFile, partition: int) -> bytes:
    """Block `partition` of `block_file` (b"" when empty, without opening the file)."""
    start, end = block_file.block_range(partition)
    if start == end:
        return b""
    try:
        return read_range(block_file.path, start, end)
    except OSError as e:
        raise OSError(f"block {partition}: {e}") from e


def dump(obj: Any) -> bytes:
    """A block's bytes for Python data (pickle: C-speed for lists of tuples of ints and bytes)."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def load_blocks(block_files: Iterable[BlockFile | None], partition: int) -> Iterator[Any]:
    """The `dump`ed objects in block `partition` of each file, in file order."""
    present = [
        f for f in block_files if f is not None and f.block_range(partition)[0] != f.block_range(partition)[1]
    ]
    if len(present) <= 1:
        blocks = (read_block(f, partition) for f in present)
    else:
        with ThreadPoolExecutor(min(READ_THREADS, len(present))) as pool:
            blocks = list(pool.map(lambda f: read_block(f, partition), present))
    for data in blocks:
        yield pickle.loads(data)


# ------------------------------------------------------------------ framed records

# A block of records that a consumer can stream instead of loading whole:
# (sort key, index, length) then the record's bytes, records in sort order.
_FRAME = struct.Struct("<QII")


def frame_records(records: Iterable[tuple[int, int, bytes]]) -> bytes:
    """[(sort key < 2**64, index < 2**32, bytes), ...] -> one block's bytes."""
    pack = _FRAME.pack
    return b"".join(pack(key, index, len(data)) + data for key, index, data in records)


def iter_frames(block_file: BlockFile, partition: int, chunk_size: int) -> Iterator[tuple[int, int, bytes]]:
    """The records of a `frame_records` block, read `chunk_size` bytes at a time."""
    start, end = block_file.block_range(partition)
    path, header = block_file.path, _FRAME.size
    pending, at, position = b"", 0, start

    def refill(needed: int) -> None:
        nonlocal pending, at, position
        if position >= end:
            raise OSError(f"{path}: block {partition} ends inside a record")
        upto = min(end, position + max(chunk_size, needed - (len(pending) - at)))
        pending = pending[at:] + read_range(path, position, upto)
        at, position = 0, upto

    while at < len(pending) or position < end:
        if len(pending) - at < header:
            refill(header)
            continue
        key, index, length = _FRAME.unpack_from(pending, at)
        if len(pending) - at < header + length:
            refill(header + length)
            continue
        yield key, index, pending[at + header : at + header + length]
        at += header + length
