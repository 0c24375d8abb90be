"""Stage `ingest`: raw publications -> a Parquet table of paragraphs.

In:  the input globs of pipeline.yaml (KIPO XML, JSONL, Parquet, 【section】 text;
     `.gz` allowed).
Out: `<output_root>/ingest/paragraphs/part-NNNNN-of-NNNNN.parquet` with columns
     doc_id, source, cpc_section, paragraph_index, section, text. Each input
     file goes to one shard (a stable hash of its path); a publication's
     paragraphs are adjacent rows. `source` (path, path@byte for a JSONL line,
     path:row for Parquet)
     identifies one publication instance even when two share a doc_id.
     `rejects/part-*.jsonl` holds every input unit (file, JSONL line, Parquet
     row) that did not become a publication, with its reason.

Accounting: input units = publications written + rejected (manifest counters
`input_units`, `publications_written`, `rejected`). Parsing lives in
`pipeline.text.readers`; this module only wires it into Beam.
"""

from __future__ import annotations

import gzip
import zlib

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.config import IngestConfig, resolve_path
from pipeline.io import filesystems
from pipeline.layout import PARAGRAPHS, REJECTS, paragraph_schema
from pipeline.run.stage import Stage, StageContext
from pipeline.text import readers
from pipeline.text.publication import InputRejected, Publication

NAME = "ingest"


def reject_record(rejected: InputRejected, source: str, doc_id: str = "", snippet: str = "") -> dict:
    return {
        "stage": NAME,
        "kind": "input",
        "source": source,
        "doc_id": doc_id,
        "reason": rejected.reason,
        "detail": rejected.detail[:500],
        "snippet": snippet,
    }


def publication_rows(pub: Publication) -> list[dict]:
    return [
        {
            "doc_id": pub.doc_id,
            "source": pub.source,
            "cpc_section": pub.cpc_section,
            "paragraph_index": i,
            "section": para.section,
            "text": para.text,
        }
        for i, para in enumerate(pub.paragraphs)
    ]


def open_raw(path: str):
    """The file's bytes as stored; `.gz` is handled here, not by Beam.

    Beam's own decompressing reader cannot `read()` a whole file, and doing it
    ourselves lets a truncated or zero-byte archive become a reject.
    """
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def open_stream(path: str):
    raw = open_raw(path)
    return gzip.GzipFile(fileobj=raw, mode="rb") if path.endswith(".gz") else raw


def parse_file(path: str, size: int, input_format: str, config: IngestConfig, start: int = 0, end=None):
    """Yield Publication or (source, InputRejected) for one file (or one byte range of a JSONL file).

    Every file yields at least one item, so nothing leaves the accounting: a
    file with no publication at all (an empty JSONL, a zero-byte `.gz`) is
    rejected as `empty_file`.
    """
    max_bytes = config.max_file_mb * 1024 * 1024
    whole_file_read = input_format in ("kipo_xml", "text")
    if whole_file_read and size > max_bytes:
        yield path, InputRejected("file_too_large", f"{size} bytes > max_file_mb={config.max_file_mb}")
        return
    stem = readers.doc_stem(path)
    produced = 0
    try:
        if whole_file_read:
            with open_raw(path) as f:
                data = readers.maybe_gunzip(f.read(), max_size=max_bytes)
            if input_format == "kipo_xml":
                item = _parse_or_reject(readers.parse_kipo_xml, data, path, stem)
            else:
                text = readers.decode_bytes(data, tuple(config.encodings))
                item = _parse_or_reject(readers.parse_sectioned_text, text, path, stem)
            produced += 1
            yield item
        elif input_format in ("jsonl", "parquet"):
            with open_stream(path) as f:
                if input_format == "jsonl":
                    items = readers.iter_jsonl_range(
                        f, path, start, end, tuple(config.encodings), max_line_bytes=max_bytes
                    )
                else:
                    items = readers.iter_parquet(f, path)
                for item in items:
                    produced += 1
                    yield (path, item) if isinstance(item, InputRejected) else item
        else:  # config validation makes this unreachable
            raise ValueError(f"unknown input format {input_format}")
    except InputRejected as rejected:
        produced += 1
        yield path, rejected
    except (EOFError, OSError, zlib.error) as e:
        # gzip raises these for truncated or corrupt archives, possibly after
        # some lines were already read; those lines stay counted.
        produced += 1
        reason = "corrupt_archive" if path.endswith(".gz") else "unreadable_file"
        yield path, InputRejected(reason, f"{type(e).__name__}: {e}")
    if not produced and start == 0 and end is None:
        yield path, InputRejected("empty_file", "no publication in the file")


def _parse_or_reject(parse, payload, path: str, stem: str):
    try:
        return parse(payload, path, stem)
    except InputRejected as rejected:
        return path, rejected


def file_entries(metadata, input_format: str, num_shards: int, split_bytes: int):
    """Matched file -> (shard index, (path, size, format, start, end)) work items.

    An uncompressed JSONL file larger than `split_bytes` becomes several byte
    ranges, so one big file does not end up as one worker's job. Every other
    file is one item. The shard is a stable hash of path and range.
    """
    path, size = metadata.path, metadata.size_in_bytes
    if input_format == "jsonl" and not path.endswith(".gz") and size > split_bytes:
        bounds = list(range(0, size, split_bytes)) + [size]
        ranges = list(zip(bounds[:-1], bounds[1:], strict=True))
    else:
        ranges = [(0, None)]
    for start, end in ranges:
        yield filesystems.stable_shard(f"{path}@{start}", num_shards), (path, size, input_format, start, end)


class WriteIngestShard(beam.DoFn):
    """(index, {files}) -> `paragraphs/part-i.parquet` and `rejects/part-i.jsonl`.

    Files are parsed in path order and publications keep their order within a
    file, so a shard's content does not depend on the runner or worker count.
    """

    def __init__(self, config: IngestConfig, output_dir: str) -> None:
        self._config, self._output_dir = config, output_dir

    def process(self, element):
        index, grouped = element
        n = self._config.num_shards
        files = sorted(grouped["files"], key=lambda f: (f[0], f[3]))
        writer = filesystems.ParquetShardWriter(
            filesystems.shard_path(
                filesystems.join(self._output_dir, PARAGRAPHS), "part", index, n, ".parquet"
            ),
            paragraph_schema(),
        )
        progress = filesystems.Progress(NAME, "files")
        rejects = []
        for path, size, input_format, start, end in files:
            if start == 0:
                Metrics.counter(NAME, f"files_{input_format}").inc()
            for item in parse_file(path, size, input_format, self._config, start, end):
                Metrics.counter(NAME, "input_units").inc()
                if isinstance(item, Publication):
                    rows = publication_rows(item)
                    writer.add(rows)
                    Metrics.counter(NAME, f"publications_{input_format}").inc()
                    Metrics.counter(NAME, "publications_written").inc()
                    Metrics.counter(NAME, "paragraphs_written").inc(len(rows))
                else:
                    source, rejected = item
                    Metrics.counter(NAME, "rejected").inc()
                    Metrics.counter(NAME, f"rejected_{rejected.reason}").inc()
                    rejects.append(reject_record(rejected, source))
            progress.tick()
        writer.close()
        reject_path = filesystems.shard_path(
            filesystems.join(self._output_dir, REJECTS), "part", index, n, ".jsonl"
        )
        with FileSystems.create(reject_path) as f:
            filesystems.write_jsonl(f, rejects)
        yield index


class IngestPublications(beam.PTransform):
    """Input globs -> paragraph Parquet shards and reject JSONL under `output_dir`.

    Only file paths are shuffled (to spread files over shards); each shard
    task reads its files and writes its Parquet file directly. Duplicate doc
    ids across files are resolved by `clean`, which sees all documents.
    """

    def __init__(self, inputs, config: IngestConfig, output_dir: str) -> None:
        super().__init__()
        self._inputs, self._config, self._output_dir = inputs, config, output_dir

    def expand(self, pipeline):
        n = self._config.num_shards
        split_bytes = self._config.split_mb * 1024 * 1024
        files = [
            pipeline
            | f"Match{i}" >> fileio.MatchFiles(pattern)
            | f"Shard{i}" >> beam.FlatMap(file_entries, input_format, n, split_bytes)
            for i, (pattern, input_format) in enumerate(self._inputs)
        ]
        return (
            {"files": files | "AllFiles" >> beam.Flatten()}
            | "JoinFiles" >> filesystems.JoinByShard(n)
            | "WriteShards" >> beam.ParDo(WriteIngestShard(self._config, self._output_dir))
        )


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    inputs = [(resolve_path(ctx.config, s.glob), s.format) for s in ctx.config.inputs]
    _ = p | "Ingest" >> IngestPublications(inputs, ctx.config.ingest, ctx.output_dir)


STAGE = Stage(
    name=NAME,
    upstream=(),
    versions={"readers": getattr(readers, "READERS_VERSION", "readers_v1")},
    build=build,
    description="raw publications -> paragraph table",
    accounting=("input_units", "publications_written", "rejected", "paragraphs_written"),
)
