"""Stage `ingest`: raw publications -> a Parquet table of paragraphs.

In:  the input globs of pipeline.yaml (KIPO XML, JSONL, Parquet, 【section】 text;
     `.gz` allowed).
Out: `<output_root>/ingest/paragraphs/part-NNNNN-of-NNNNN.parquet` with columns
     doc_id, source, cpc_section, paragraph_index, section, text; sharded by
     doc_id and sorted, so a document's paragraphs sit together in one shard.
     `rejects/part-*.jsonl` holds every input unit (file, JSONL line, Parquet
     row) that did not become a publication, with its reason.

Accounting: input units = publications written + rejected (manifest counters
`input_units`, `publications_written`, `rejected`). Parsing lives in
`pipeline.readers`; this module only wires it into Beam.
"""

from __future__ import annotations

import dataclasses
import gzip
import posixpath
import zlib

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline import beam_io, readers
from pipeline.config import IngestConfig, resolve_path
from pipeline.records import InputRejected, Publication
from pipeline.runner import Stage, StageContext

NAME = "ingest"
REJECTS = "rejects"
PARAGRAPHS = "paragraphs"


def paragraph_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("doc_id", pa.string()),
            ("source", pa.string()),
            ("cpc_section", pa.string()),
            ("paragraph_index", pa.int32()),
            ("section", pa.string()),
            ("text", pa.string()),
        ]
    )


def file_stem(path: str) -> str:
    """`.../KR1020240010001.xml.gz` -> `KR1020240010001`."""
    name = posixpath.basename(path.replace("\\", "/"))
    for ext in (".gz", ".xml", ".txt", ".jsonl", ".json", ".parquet"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name


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


def parse_file(path: str, size: int, input_format: str, config: IngestConfig):
    """Yield Publication or (source, InputRejected) for one matched file.

    Every file yields at least one item, so nothing leaves the accounting: a
    file with no publication at all (an empty JSONL, a zero-byte `.gz`) is
    rejected as `empty_file`.
    """
    max_bytes = config.max_file_mb * 1024 * 1024
    if size > max_bytes:
        yield path, InputRejected("file_too_large", f"{size} bytes > max_file_mb={config.max_file_mb}")
        return
    stem = file_stem(path)
    produced = 0
    try:
        if input_format in ("kipo_xml", "text"):
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
                    items = readers.iter_jsonl(f, path, tuple(config.encodings))
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
    if not produced:
        yield path, InputRejected("empty_file", "no publication in the file")


def _parse_or_reject(parse, payload, path: str, stem: str):
    try:
        return parse(payload, path, stem)
    except InputRejected as rejected:
        return path, rejected


class ParseFiles(beam.DoFn):
    """File metadata -> Publication (main output) and reject records ('rejects')."""

    def __init__(self, input_format: str, config: IngestConfig) -> None:
        self._format, self._config = input_format, config
        self._units = Metrics.counter(NAME, "input_units")
        self._files = Metrics.counter(NAME, f"files_{input_format}")
        self._publications = Metrics.counter(NAME, f"publications_{input_format}")

    def process(self, metadata):
        self._files.inc()
        for item in parse_file(metadata.path, metadata.size_in_bytes, self._format, self._config):
            self._units.inc()
            if isinstance(item, Publication):
                self._publications.inc()
                yield item
            else:
                source, rejected = item
                Metrics.counter(NAME, "rejected").inc()
                Metrics.counter(NAME, f"rejected_{rejected.reason}").inc()
                yield beam.pvalue.TaggedOutput(REJECTS, reject_record(rejected, source))


def keyed_publication(pub: Publication):
    # Shard by id so duplicates of one id meet in one shard; sort by (id,
    # source) so the same copy wins on every run.
    return pub.doc_id, (pub.doc_id, pub.source), dataclasses.asdict(pub)


def keyed_reject(record: dict):
    return record["source"], (record["source"], record["doc_id"], record["reason"]), record


def write_paragraph_shard(folder: str, index: int, num_shards: int, publications: list[dict]):
    """Write one Parquet shard; return reject records for repeated doc ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, rejects, seen = [], [], {}
    for pub_dict in publications:
        pub = _publication_from_dict(pub_dict)
        if pub.doc_id in seen:
            Metrics.counter(NAME, "rejected").inc()
            Metrics.counter(NAME, "rejected_duplicate_doc_id").inc()
            rejected = InputRejected("duplicate_doc_id", f"same id as {seen[pub.doc_id]}")
            rejects.append(reject_record(rejected, pub.source, pub.doc_id))
            continue
        seen[pub.doc_id] = pub.source
        rows.extend(publication_rows(pub))
    Metrics.counter(NAME, "publications_written").inc(len(seen))
    Metrics.counter(NAME, "paragraphs_written").inc(len(rows))
    path = beam_io.shard_path(folder, "part", index, num_shards, ".parquet")
    with beam_io.FileSystems.create(path) as f:
        pq.write_table(pa.Table.from_pylist(rows, schema=paragraph_schema()), f, compression="zstd")
    return rejects


def _publication_from_dict(d: dict) -> Publication:
    from pipeline.records import Paragraph

    paragraphs = tuple(Paragraph(**p) for p in d["paragraphs"])
    return Publication(d["doc_id"], d["source"], paragraphs, d["cpc_section"])


class IngestPublications(beam.PTransform):
    """Input globs -> paragraph Parquet shards and reject JSONL under `output_dir`."""

    def __init__(self, inputs, config: IngestConfig, output_dir: str) -> None:
        super().__init__()
        self._inputs, self._config, self._output_dir = inputs, config, output_dir

    def expand(self, pipeline):
        publications, rejects = [], []
        for i, (pattern, input_format) in enumerate(self._inputs):
            parsed = (
                pipeline
                | f"Match{i}" >> fileio.MatchFiles(pattern)
                # Spread files over workers before the expensive parse.
                | f"Reshuffle{i}" >> beam.Reshuffle()
                | f"Parse{i}"
                >> beam.ParDo(ParseFiles(input_format, self._config)).with_outputs(
                    REJECTS, main="publications"
                )
            )
            publications.append(parsed.publications)
            rejects.append(parsed[REJECTS])
        duplicate_ids = (
            publications
            | "AllPublications" >> beam.Flatten()
            | "Progress" >> beam.ParDo(beam_io.ReportProgress(NAME, "publications"))
            | "KeyPublications" >> beam.Map(keyed_publication)
            | "WriteParagraphs"
            >> beam_io.WriteSortedShards(
                beam_io.join(self._output_dir, PARAGRAPHS),
                self._config.num_shards,
                write_paragraph_shard,
            )
        )
        return (
            rejects + [duplicate_ids]
            | "AllRejects" >> beam.Flatten()
            | "KeyRejects" >> beam.Map(keyed_reject)
            | "WriteRejects"
            >> beam_io.WriteSortedShards(
                beam_io.join(self._output_dir, REJECTS),
                self._config.num_shards,
                beam_io.write_jsonl_shard,
            )
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
