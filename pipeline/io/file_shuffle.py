"""Shuffles through scratch files: memory bounded by one task's data on any runner.

A Beam GroupByKey on the DirectRunner keeps every element it shuffles in the
runner's own process, so a stage whose shuffle carries the corpus (tfrecords:
every sentence, then every example; clean: every dedup key) needs memory in
proportion to the corpus. Here a producer task writes its output as one
scratch file of blocks, one block per partition, and passes on only a
`BlockRef` (path, byte range) per non-empty block; Beam groups those small
references by partition, and the consumer of a partition reads its blocks with
ranged reads. The runner's process holds references, a worker holds one
producer's output or one partition. Everything goes through Beam FileSystems
(gs:// with exact ranged downloads), so on Dataflow this is one write and one
read of the data instead of the shuffle service.

File names carry a random suffix: a retried or duplicated bundle writes a file
of its own, and only the references of the attempt that Beam commits are read
(pickle bytes are not guaranteed identical between attempts). The stage
deletes the scratch folder when it has finished.

`Exchange` chooses between that and the runner's own shuffle (`runner.exchange`):
with `beam` a producer passes on the block's bytes instead of a reference, so
the same GroupByKey carries the data itself (on Dataflow, the shuffle service),
and the consumer's `load_blocks` / `iter_frames` read either kind of block.
Producers, groupings and consumers are the same code in both modes, so the
outputs are byte-identical.
"""

from __future__ import annotations

import dataclasses
import heapq
import pickle
import struct
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

UNCOMPRESSED = CompressionTypes.UNCOMPRESSED

# Concurrent block reads per consumer: on gs:// each is a ranged request
# whose latency, not bandwidth, is the cost.
READ_THREADS = 8


@dataclasses.dataclass(frozen=True)
class BlockRef:
    """Bytes [start, end) of the scratch file at `path`."""

    path: str
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


# What a producer passes on for one partition: a reference into a scratch file
# (exchange `files`) or the block's bytes themselves (exchange `beam`).
Block = BlockRef | bytes

FILES, BEAM = "files", "beam"
EXCHANGE_MODES = (FILES, BEAM)


@dataclasses.dataclass(frozen=True)
class Exchange:
    """How producers hand blocks to consumers: `files` writes a producer's blocks to one
    scratch file in `folder` and passes on BlockRefs; `beam` passes on the bytes, which
    the runner's GroupByKey then carries."""

    mode: str
    folder: str

    def __post_init__(self) -> None:
        if self.mode not in EXCHANGE_MODES:
            raise ValueError(f"exchange mode {self.mode!r}: expected one of {EXCHANGE_MODES}")

    def send(self, stem: str, blocks: Mapping[Any, bytes]) -> dict[Any, Block]:
        """The non-empty `blocks` ({partition: bytes}) -> {partition: Block}, in partition
        order; `stem` names the scratch file (exchange `files`)."""
        if self.mode == BEAM:
            return {partition: blocks[partition] for partition in sorted(blocks) if blocks[partition]}
        return write_blocks(FileSystems.join(self.folder, unique_name(stem)), blocks)


def unique_name(stem: str, ext: str = ".bin") -> str:
    """`stem` plus a random suffix: each attempt at a bundle writes its own file."""
    return f"{stem}-{uuid.uuid4().hex[:12]}{ext}"


def write_blocks(path: str, blocks: Mapping[int, bytes]) -> dict[int, BlockRef]:
    """Write the non-empty `blocks` ({partition: bytes}) to `path`, in partition order."""
    refs, position = {}, 0
    with FileSystems.create(path, compression_type=UNCOMPRESSED) as out:
        for partition in sorted(blocks):
            data = blocks[partition]
            if not data:
                continue
            out.write(data)
            refs[partition] = BlockRef(path, position, position + len(data))
            position += len(data)
    return refs


_FILESYSTEMS: dict = {}
_GCS = threading.local()


def _filesystem(path: str):
    # FileSystems.open looks the scheme's class up among every FileSystem
    # subclass on each call: ~10 us, more than a small local read.
    scheme = FileSystems.get_scheme(path)
    if scheme not in _FILESYSTEMS:
        _FILESYSTEMS[scheme] = FileSystems.get_filesystem(path)
    return _FILESYSTEMS[scheme]


def _gcs_client():
    """A storage client per thread (Beam's GcsIO, with the pipeline's credentials)."""
    if getattr(_GCS, "io", None) is None:
        from apache_beam.io.gcp import gcsio
        from apache_beam.options.value_provider import RuntimeValueProvider

        # The options FileSystems itself hands to GCSFileSystem.
        options = FileSystems._pipeline_options or RuntimeValueProvider.runtime_options
        _GCS.io = gcsio.GcsIO(pipeline_options=options)
    return _GCS.io.client


def _read_gcs(path: str, start: int, end: int) -> bytes:
    # Beam's GCS reader fetches at least its 16 MiB buffer per read and asks
    # for the object's size on seek: one exact ranged download instead.
    from apache_beam.io.gcp.gcsio import parse_gcs_path

    bucket, name = parse_gcs_path(path)
    return (
        _gcs_client().bucket(bucket).blob(name).download_as_bytes(start=start, end=end - 1)
    )  # end inclusive


def read_range(path: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of the file at `path` (one ranged read)."""
    if start == end:
        return b""
    if path.startswith("gs://"):
        data = _read_gcs(path, start, end)
    else:
        with _filesystem(path).open(path, compression_type=UNCOMPRESSED) as f:
            f.seek(start)
            data = f.read(end - start)
    if len(data) != end - start:
        raise OSError(f"{path}: bytes {start}-{end} give {len(data)} bytes, expected {end - start}")
    return data


def read_block(block: Block) -> bytes:
    if isinstance(block, bytes):
        return block
    return read_range(block.path, block.start, block.end)


def dump(obj: Any) -> bytes:
    """A block's bytes for Python data (pickle: C-speed for lists of tuples of ints and bytes)."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def load_blocks(blocks: Iterable[Block]) -> Iterator[Any]:
    """The `dump`ed object of each block, in the order given (READ_THREADS reads at a time)."""
    blocks = iter(blocks)
    first = next(blocks, None)
    if isinstance(first, bytes):
        # The runner's shuffle brought the bytes: one at a time, so that an iterable
        # the runner streams (Dataflow's grouped values) is never held whole.
        for block in chain((first,), blocks):
            yield pickle.loads(block)
        return
    refs = [] if first is None else [first, *blocks]
    if len(refs) <= 1:
        for ref in refs:
            yield pickle.loads(read_block(ref))
        return
    with ThreadPoolExecutor(min(READ_THREADS, len(refs))) as pool:
        pending = [pool.submit(read_block, ref) for ref in refs]
        for i in range(len(pending)):
            data = pending[i].result()
            pending[i] = None  # the raw bytes go as soon as they are unpickled
            yield pickle.loads(data)
            del data


# ------------------------------------------------------------------ framed records

# A block of records that a consumer can stream instead of loading whole:
# (sort key, index, length) then the record's bytes, records in sort order.
_FRAME = struct.Struct("<QII")


def frame_records(records: Iterable[tuple[int, int, bytes]]) -> bytes:
    """[(sort key < 2**64, index < 2**32, bytes), ...] -> one block's bytes."""
    pack = _FRAME.pack
    return b"".join(pack(key, index, len(data)) + data for key, index, data in records)


def iter_frames(ref: Block, chunk_size: int) -> Iterator[tuple[int, int, bytes]]:
    """The records of a `frame_records` block, read `chunk_size` bytes at a time."""
    header = _FRAME.size
    if isinstance(ref, bytes):  # the block itself, from the runner's shuffle
        at = 0
        while at < len(ref):
            if len(ref) - at < header:
                raise OSError(f"block of {len(ref)} bytes ends inside a record header")
            key, index, length = _FRAME.unpack_from(ref, at)
            if len(ref) - at - header < length:
                raise OSError(f"block of {len(ref)} bytes ends inside a record")
            yield key, index, ref[at + header : at + header + length]
            at += header + length
        return
    pending, at, position = b"", 0, ref.start

    def refill(needed: int) -> None:
        nonlocal pending, at, position
        if position >= ref.end:
            raise OSError(f"{ref.path}: block {ref.start}-{ref.end} ends inside a record")
        upto = min(ref.end, position + max(chunk_size, needed - (len(pending) - at)))
        pending = pending[at:] + read_range(ref.path, position, upto)
        at, position = 0, upto

    while at < len(pending) or position < ref.end:
        if len(pending) - at < header:
            refill(header)
            continue
        key, index, length = _FRAME.unpack_from(pending, at)
        if len(pending) - at < header + length:
            refill(header + length)
            continue
        yield key, index, pending[at + header : at + header + length]
        at += header + length


def merged_frames(blocks: Iterable[Block], buffer_bytes: int) -> Iterator[tuple[int, int, bytes]]:
    """The records of `frame_records` blocks, each sorted, as one stream in (sort key,
    index, bytes) order. Each block is read in chunks (`buffer_bytes` shared between
    them), so memory holds a chunk per block, never the blocks' data."""
    blocks = list(blocks)
    chunk = min(1 << 20, max(16 << 10, buffer_bytes // max(1, len(blocks))))
    return heapq.merge(*(iter_frames(block, chunk) for block in blocks))


class SortedSpill:
    """Records (destination, sort key, index, bytes) in any order -> framed blocks, one per
    destination and sorted, sent through `exchange` as one more scratch file whenever
    `limit` records are held: a producer's memory holds at most `limit` records, and a
    consumer merges its blocks (`merged_frames`) into one sorted stream.

        spill = SortedSpill(exchange, "pairs-00003", limit=50_000)
        for ...:
            yield from spill.add(destination, key, index, data)
        yield from spill.flush()
    """

    def __init__(self, exchange: Exchange, stem: str, limit: int) -> None:
        self._exchange, self._stem, self._limit = exchange, stem, limit
        self._held: dict[Any, list] = {}
        self._count = self._segment = 0

    @property
    def held(self) -> int:
        """Records held, not yet sent."""
        return self._count

    def add(self, destination: Any, key: int, index: int, data: bytes) -> list[tuple[Any, Block]]:
        """Holds the record; returns the (destination, Block)s sent when the limit is reached."""
        self._held.setdefault(destination, []).append((key, index, data))
        self._count += 1
        return self.flush() if self._count >= self._limit else []

    def flush(self) -> list[tuple[Any, Block]]:
        """Sends what is held (nothing when nothing is): (destination, Block)s."""
        if not self._count:
            return []
        blocks = {d: frame_records(sorted(records)) for d, records in self._held.items()}
        sent = self._exchange.send(f"{self._stem}-{self._segment:05d}", blocks)
        self._held, self._count, self._segment = {}, 0, self._segment + 1
        return list(sent.items())
