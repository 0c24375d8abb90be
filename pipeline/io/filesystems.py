"""File and Beam helpers shared by the stages.

All I/O goes through Beam's `FileSystems`, so the same code reads and writes
local paths and `gs://` paths. Outputs are written as a fixed number of shards
whose content is sorted by a key: the same input gives byte-identical files
whatever the runner, the number of workers or the order elements arrive in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

log = logging.getLogger(__name__)


# Scratch space inside a stage's folder; the runner deletes it after a
# successful run, before the manifest is written.
TMP_DIR = "_tmp"


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


# Beam reads `*`, `?` and `[...]` in any path it matches or deletes as a glob
# pattern, and its syntax has no escape character: a one-character class is the
# only way to say "this character". Every helper here that lists or deletes a
# folder by name escapes it, so `runs/run[1]` never reaches `runs/run1`.
GLOB_CHARS = "*?["


def escape_glob(path: str) -> str:
    """`path` as a Beam match pattern that matches only itself (`run[1]` -> `run[[]1]`)."""
    return "".join(f"[{c}]" if c in GLOB_CHARS else c for c in path)


def literal(path: str) -> str:
    """`path` escaped only when it holds glob characters (a plain path lets Beam skip a listing)."""
    return escape_glob(path) if any(c in path for c in GLOB_CHARS) else path


def is_local(path: str) -> bool:
    return "://" not in path


def files_under(folder: str, limit: int | None = None) -> list[str]:
    """Paths of the files below `folder`, at any depth."""
    return [m.path for m in _match_under(folder, limit)]


def _match_under(folder: str, limit: int | None = None):
    pattern = FileSystems.join(escape_glob(folder), "**")
    return FileSystems.match([pattern], limits=[limit] if limit else None)[0].metadata_list


def tree_listing(folder: str) -> dict[str, tuple[int, float]]:
    """Files below `folder`: path relative to it (with `/`) -> (size, modification time)."""
    prefix = folder.rstrip("/") + "/"
    listing = {}
    for m in _match_under(folder):
        rel = m.path[len(prefix) :] if m.path.startswith(prefix) else os.path.relpath(m.path, folder)
        listing[rel.replace(os.sep, "/")] = (m.size_in_bytes, float(m.last_updated_in_seconds or 0))
    return listing


def tree_exists(folder: str) -> bool:
    """Whether `folder` exists, or (on object stores, which have no folders) holds a file."""
    return FileSystems.exists(folder) or bool(files_under(folder, limit=1))


def delete_tree(folder: str) -> None:
    """Delete everything under `folder` (a no-op when it does not exist); nothing else.

    Local folders are removed directly: Beam's delete matches its argument as a
    glob. On object stores (gs://) a folder is only a name prefix: it never
    "exists" and deleting the name deletes nothing, so its files are listed
    (escaped) and deleted one literal name at a time.
    """
    if is_local(folder):
        if os.path.isdir(folder) and not os.path.islink(folder):
            shutil.rmtree(folder)
        elif os.path.lexists(folder):
            os.remove(folder)
        return
    if FileSystems.exists(folder):
        FileSystems.delete([literal(folder)])
    files = files_under(folder)
    if files:
        FileSystems.delete([literal(f) for f in files])


def move_tree(source: str, target: str) -> None:
    """Move the folder `source` to `target`, which must not exist.

    Local: one rename, atomic. Object stores: each file is copied and deleted,
    so a process killed half-way leaves part of the files at each name.
    """
    if is_local(source):
        os.makedirs(os.path.dirname(target.rstrip(os.sep)) or ".", exist_ok=True)
        os.rename(source, target)
        return
    names = sorted(files_under(source))
    prefix = source.rstrip("/") + "/"
    targets = [FileSystems.join(target, name[len(prefix) :]) for name in names]
    if names:  # rename takes literal names (no matching)
        FileSystems.rename(names, targets)


def file_checksum(path: str, chunk_bytes: int = 1 << 20) -> str:
    """CRC-32 of a file's bytes as stored (never decompressed), as 8 hex digits.

    CRC-32 because it only has to catch accidents (a truncated, rewritten or
    swapped file), not tampering, and zlib's is the cheapest checksum in the
    standard library (several hundred MB/s per core).
    """
    crc = 0
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        while chunk := f.read(chunk_bytes):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


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
        FileSystems.delete([literal(path)])
    FileSystems.rename([tmp], [path])


def read_json(path: str) -> Any:
    return json.loads(read_bytes(path).decode("utf-8"))


# ------------------------------------------------------------------ shards


class JoinByShard(beam.PTransform):
    """{name: PCollection of (shard_index, value)} -> (index, {name: [values]}).

    Every index 0..num_shards-1 comes out exactly once, even with no values,
    so a stage can write all of its shard files. Stages move only small
    records (file paths, hashes, drop markers) through this join; the text
    itself is read and written by the shard task, never shuffled.
    """

    def __init__(self, num_shards: int) -> None:
        super().__init__()
        self._num_shards = num_shards

    def expand(self, pcolls):
        pipeline = next(iter(pcolls.values())).pipeline
        every_shard = pipeline | "EveryShard" >> beam.Create([(i, None) for i in range(self._num_shards)])
        return {"shard": every_shard, **pcolls} | "CoGroupByShard" >> beam.CoGroupByKey()


def write_jsonl(f, records: Iterable[dict]) -> None:
    for record in records:
        f.write(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        f.write(b"\n")


def _to_single_key(line: str):
    return None, line


class _WriteSortedFile(beam.DoFn):
    def __init__(self, path: str) -> None:
        self._path = path

    def process(self, element):
        _, lines = element
        with FileSystems.create(self._path) as f:
            for line in sorted(lines):
                f.write(line.encode("utf-8"))
                f.write(b"\n")
        yield self._path


class WriteSortedLines(beam.PTransform):
    """Lines -> one text file, sorted, so its bytes do not depend on the runner.

    For bounded, central-sized data only (samples, counts that one process
    reads next anyway): every line goes through one worker.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def expand(self, lines):
        return (
            lines
            | "OneKey" >> beam.Map(_to_single_key)
            | "Gather" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WriteSortedFile(self._path))
        )


# ------------------------------------------------------------------ reading an upstream

# How a stage reads another stage's files. Built alone, it names them and
# Beam lists them when the job starts. Fused into one job behind the stage that
# writes them (`runner.jobs: fused`), it gets that stage's completion element
# (`after`, one element once every file is written) and lists the files only
# then: Beam's file sources expand their globs when the job starts, before any
# step has run. The labels are the same either way.


def match_files(pipeline, glob: str, after=None, label: str = "Match"):
    """The files matching `glob` as Beam `FileMetadata`; listed after `after` when given."""
    if after is None:
        return pipeline | label >> fileio.MatchFiles(glob)
    return after | f"{label}Glob" >> beam.Map(_constant, glob) | label >> fileio.MatchAll()


def read_text(pipeline, glob: str, after=None, label: str = "Read"):
    """The lines of the text files matching `glob`; read after `after` when given."""
    if after is None:
        return pipeline | label >> beam.io.ReadFromText(glob, validate=False)
    return after | f"{label}Glob" >> beam.Map(_constant, glob) | label >> beam.io.ReadAllFromText()


def read_parquet(pipeline, glob: str, columns, after=None, label: str = "Read"):
    """The rows (dicts of `columns`) of the Parquet files matching `glob`; read after `after` when given."""
    if after is None:
        return pipeline | label >> beam.io.ReadFromParquet(glob, columns=list(columns), validate=False)
    return (
        after
        | f"{label}Glob" >> beam.Map(_constant, glob)
        | label >> beam.io.ReadAllFromParquet(columns=list(columns))
    )


def start(pipeline, after=None, label: str = "Start"):
    """One element (None) for a central step: at once, or after `after` when given."""
    if after is None:
        return pipeline | label >> beam.Create([None])
    return after | label >> beam.Map(_constant, None)


def after_all(pipeline, signals, label: str):
    """One completion element once every given one has come (None entries ignored);
    None when none is given."""
    signals = [s for s in signals if s is not None]
    if len(signals) <= 1:
        return signals[0] if signals else None
    return (
        tuple(signals)
        | f"{label}Flatten" >> beam.Flatten(pipeline=pipeline)
        | f"{label}Count" >> beam.combiners.Count.Globally()
    )


def _constant(_, value):
    return value


# ------------------------------------------------------------------ parquet


class ParquetShardWriter:
    """Streams dict rows into one Parquet file in row groups: bounded memory."""

    ROWS_PER_GROUP = 20000

    def __init__(self, path: str, schema) -> None:
        import pyarrow.parquet as pq

        self._schema = schema
        self._file = FileSystems.create(path)
        self._writer = pq.ParquetWriter(self._file, schema, compression="zstd")
        self._rows: list[dict] = []

    def add(self, rows: list[dict]) -> None:
        self._rows.extend(rows)
        if len(self._rows) >= self.ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._file.close()


def iter_parquet_rows(path: str, columns: list[str] | None = None, batch_size: int = 4096):
    """Rows of a Parquet file as dicts, one record batch in memory at a time."""
    import pyarrow.parquet as pq

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_size, columns=columns):
            # Column-wise conversion is several times faster than to_pylist().
            names = batch.schema.names
            columns_data = [column.to_pylist() for column in batch.columns]
            for values in zip(*columns_data, strict=True):
                yield dict(zip(names, values, strict=True))


# ------------------------------------------------------------------ progress

# A local folder where worker processes record their counts for the launcher's
# display (pipeline.run.progress). The runner sets it around a DirectRunner job;
# DirectRunner's worker processes inherit it. Unset (Dataflow workers, tests),
# nothing is written.
PROGRESS_DIR_ENV = "PIPELINE_PROGRESS_DIR"


class Progress:
    """Counts work inside a DoFn (`tick`) and marks central steps (`Progress.step`).

    Each count also goes to the Beam counter `progress_<noun>`. Under the
    runner (PROGRESS_DIR_ENV set), a process's cumulative counts and steps go
    to `<folder>/<pid>.json`, rewritten by a daemon thread at most every
    FLUSH_S seconds, so a tick costs a dict update; the launcher sums the files.
    Without the folder, each instance prints its own rate every `every_s`
    seconds to stderr (a worker's log). Progress never fails a stage: errors
    writing the file are ignored.
    """

    FLUSH_S = 0.5
    # Per process: {"folder", "pid", "counts": {stage: {noun: n}}, "steps": {...}, "dirty"}
    _lock = threading.Lock()
    _state: dict[str, Any] = {"folder": None, "pid": None}

    def __init__(self, stage: str, noun: str, every_s: float = 10.0) -> None:
        self._stage, self._noun, self._every_s = stage, noun, every_s
        self._counter = Metrics.counter(stage, f"progress_{noun}")
        self._count = 0
        self._start = self._last = time.monotonic()

    def tick(self, n: int = 1) -> None:
        self._count += n
        self._counter.inc(n)
        folder = os.environ.get(PROGRESS_DIR_ENV)
        if folder:
            with Progress._lock:
                counts = Progress._current(folder)["counts"].setdefault(self._stage, {})
                counts[self._noun] = counts.get(self._noun, 0) + n
                Progress._state["dirty"] = True
            return
        now = time.monotonic()
        if now - self._last >= self._every_s:
            self._last = now
            rate = self._count / max(now - self._start, 1e-9)
            print(
                f"[{self._stage}] {self._count:,} {self._noun} on worker {os.getpid()} ({rate:,.0f}/s)",
                file=sys.stderr,
                flush=True,
            )

    @staticmethod
    @contextlib.contextmanager
    def step(stage: str, what: str) -> Iterator[None]:
        """Marks a long central step (`with Progress.step("nouns", "scoring nouns"):`):
        the launcher prints its start and its duration."""
        key, started, ok = f"{stage}\t{what}", time.time(), False
        Progress._mark(stage, what, key, {"started": started, "seconds": None})
        try:
            yield
            ok = True
        finally:
            seconds = round(time.time() - started, 2)
            Progress._mark(stage, what, key, {"started": started, "seconds": seconds, "failed": not ok})

    @staticmethod
    def _mark(stage: str, what: str, key: str, record: dict) -> None:
        folder = os.environ.get(PROGRESS_DIR_ENV)
        if not folder:
            seconds, state = record["seconds"], "failed after" if record.get("failed") else "done in"
            line = (
                f"[{stage}] {what} ..." if seconds is None else f"[{stage}] {what}: {state} {seconds:.1f} s"
            )
            print(line, file=sys.stderr, flush=True)
            return
        with Progress._lock:
            Progress._current(folder)["steps"][key] = {"stage": stage, "what": what, **record}
            Progress._state["dirty"] = True
        Progress._flush()  # steps are rare: the launcher sees them at once

    @staticmethod
    def _current(folder: str) -> dict[str, Any]:
        """This process's state for `folder` (reset for a new folder or a forked process);
        starts the flushing thread. Called with the lock held."""
        state = Progress._state
        if state["folder"] != folder or state["pid"] != os.getpid():
            state.update(folder=folder, pid=os.getpid(), counts={}, steps={}, dirty=False)
            with contextlib.suppress(RuntimeError):  # no thread to spare: no live counts
                threading.Thread(target=Progress._flush_loop, args=(folder,), daemon=True).start()
        return state

    @staticmethod
    def _flush_loop(folder: str) -> None:
        while Progress._state["folder"] == folder and Progress._state["pid"] == os.getpid():
            time.sleep(Progress.FLUSH_S)
            Progress._flush()

    @staticmethod
    def _flush() -> None:
        with Progress._lock:
            state = Progress._state
            if not state.get("dirty"):
                return
            state["dirty"] = False
            folder, data = state["folder"], {"counts": state["counts"], "steps": state["steps"]}
            payload = json.dumps(data).encode("utf-8")
        path = os.path.join(folder, f"{os.getpid()}.json")
        try:  # written aside and renamed: the launcher never reads half a file
            with open(path + ".tmp", "wb") as f:
                f.write(payload)
            os.replace(path + ".tmp", path)
        except OSError:
            pass  # the folder is gone (the stage ended) or full: progress is not worth a failure


def read_text_file(path: str, what: str) -> str:
    """A small UTF-8 text file (BOM dropped); `what` names the setting in the error."""
    if not exists(path):
        raise FileNotFoundError(f"{what}: {path} not found")
    return read_bytes(path).decode("utf-8-sig")


class NotUtf8(ValueError):
    """A line of a text file that is not UTF-8: `path:line: reason`."""


def numbered_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file (local or gs://), streamed; a BOM is ignored."""
    with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise NotUtf8(f"{path}:{number}: not UTF-8 ({e.reason})") from None
            yield number, text.rstrip("\r\n")


# The runner names each stage run's scratch folder here; DirectRunner workers
# inherit it. Unset (Dataflow workers, tests, tools): the system temp folder.
SCRATCH_ENV = "PIPELINE_SCRATCH_DIR"


def scratch_root() -> str | None:
    """The stage run's scratch folder (created if needed), or None for the system's."""
    root = os.environ.get(SCRATCH_ENV) or None
    if root:
        os.makedirs(root, exist_ok=True)
    return root


def scratch_folder(prefix: str) -> str:
    """A new local temporary folder inside the stage run's scratch folder."""
    import tempfile

    return tempfile.mkdtemp(prefix=prefix, dir=scratch_root())
