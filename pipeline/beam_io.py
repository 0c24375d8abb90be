"""File and Beam helpers shared by the stages.

All I/O goes through Beam's `FileSystems`, so the same code reads and writes
local paths and `gs://` paths. Outputs are written as a fixed number of shards
whose content is sorted by a key: the same input gives byte-identical files
whatever the runner, the number of workers or the order elements arrive in.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import zlib
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

log = logging.getLogger(__name__)


def stable_shard(key: str, num_shards: int) -> int:
    """A shard index that is the same in every process and Python version."""
    return zlib.crc32(key.encode("utf-8")) % num_shards


def shard_path(folder: str, prefix: str, index: int, num_shards: int, ext: str) -> str:
    return FileSystems.join(folder, f"{prefix}-{index:05d}-of-{num_shards:05d}{ext}")


def join(*parts: str) -> str:
    return FileSystems.join(*parts)


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def list_files(pattern: str) -> list[str]:
    """Sorted paths matching a glob; [] when nothing matches."""
    result = FileSystems.match([pattern])[0]
    return sorted(m.path for m in result.metadata_list)


def delete_tree(folder: str) -> None:
    """Delete everything under `folder` (a no-op when it does not exist)."""
    if FileSystems.exists(folder):
        FileSystems.delete([folder])


def write_bytes(path: str, data: bytes) -> None:
    with FileSystems.create(path) as f:
        f.write(data)


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path) as f:
        return f.read()


def write_json(path: str, obj: Any) -> None:
    """Write JSON so that it appears whole: to a temporary name, then renamed."""
    tmp = path + ".tmp"
    write_bytes(tmp, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True).encode())
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def read_json(path: str) -> Any:
    return json.loads(read_bytes(path).decode("utf-8"))


# ------------------------------------------------------------------ sorted shards


def _sort_key(element):
    return element[0]


class _WriteShard(beam.DoFn):
    def __init__(self, folder: str, num_shards: int, writer) -> None:
        self._folder, self._num_shards, self._writer = folder, num_shards, writer

    def process(self, element):
        index, grouped = element
        records = [record for _, record in sorted(grouped["records"], key=_sort_key)]
        side = self._writer(self._folder, index, self._num_shards, records)
        yield from side or ()


def _key_by_shard(element, num_shards: int):
    shard_key, sort_key, record = element
    return stable_shard(shard_key, num_shards), (sort_key, record)


class WriteSortedShards(beam.PTransform):
    """Write (shard_key, sort_key, record) triples to `num_shards` shards.

    All records with one shard key land in one shard, sorted by sort key, so
    the files do not depend on the order elements arrive in. Every shard is
    written even when empty, so consumers can count on indices 0..N-1.
    `writer(folder, index, num_shards, records)` is a module-level function
    that writes one shard's files; whatever it returns (e.g. reject records
    found while writing) is this transform's output.
    """

    def __init__(self, folder: str, num_shards: int, writer) -> None:
        super().__init__()
        self._folder, self._num_shards, self._writer = folder, num_shards, writer

    def expand(self, records):
        n = self._num_shards
        by_shard = records | "KeyByShard" >> beam.Map(_key_by_shard, n)
        all_shards = records.pipeline | "AllShards" >> beam.Create([(i, None) for i in range(n)])
        return (
            {"shard": all_shards, "records": by_shard}
            | "GroupShards" >> beam.CoGroupByKey()
            | "Write" >> beam.ParDo(_WriteShard(self._folder, n, self._writer))
        )


def write_jsonl_shard(folder: str, index: int, num_shards: int, records: list[dict]):
    """Shard writer for JSON-lines records (rejects, reports)."""
    with FileSystems.create(shard_path(folder, "part", index, num_shards, ".jsonl")) as f:
        write_jsonl(f, records)


def write_jsonl(f, records: Iterable[dict]) -> None:
    for record in records:
        f.write(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        f.write(b"\n")


# ------------------------------------------------------------------ progress


class ReportProgress(beam.DoFn):
    """Pass elements through, logging a count and rate every `every_s` seconds.

    Each worker logs its own count; Beam's counter of the same name holds the
    total that the runner prints at the end.
    """

    def __init__(self, stage: str, noun: str, every_s: float = 10.0) -> None:
        self._stage, self._noun, self._every_s = stage, noun, every_s
        self._counter = Metrics.counter(stage, f"progress_{noun}")

    def setup(self):
        self._count = 0
        self._start = self._last = time.monotonic()

    def process(self, element):
        self._count += 1
        self._counter.inc()
        now = time.monotonic()
        if now - self._last >= self._every_s:
            self._last = now
            rate = self._count / max(now - self._start, 1e-9)
            # Plain stderr, not logging: DirectRunner's worker processes
            # inherit it, while logging records come back wrapped in protos.
            print(
                f"[{self._stage}] {self._count:,} {self._noun} on worker {os.getpid()} ({rate:,.0f}/s)",
                file=sys.stderr,
                flush=True,
            )
        yield element
