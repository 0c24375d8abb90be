"""Stage `clean`: paragraphs -> Google BERT pretraining text, one sentence per line.

In:  `<output_root>/ingest/paragraphs/*.parquet`.
Out: `text/part-NNNNN-of-NNNNN.txt`: UTF-8, one sentence per line, a blank line
     after every paragraph (or only between documents, `blank_line_between`);
     `sentences/part-*.parquet`: doc_id, cpc_section, paragraph_index, section,
     sentence_index, text, for later stages;
     `rejects/part-*.jsonl`: every dropped document, paragraph and sentence with
     its reason and a snippet.

Per document (`pipeline.text.cleaning`): strip markup, normalise (NFC by
default, see docs/stages.md; `pipeline.text.normalize`), split sentences
(`pipeline.text.sentences`), filter sentences (length, Hangul share,
repeated-character junk). Across documents (`pipeline.text.dedup`): exact dedup
of whole documents and of paragraphs repeated in other documents; the smallest
doc_id keeps the text. This module moves the keys and markers through scratch
files and writes the shards.
Accounting: documents_in = documents_written + rejected_documents.
Fault isolation: a document on which cleaning raises is rejected as
`clean_error` (with the error and a snippet) and the run goes on; the stage
fails when more than `clean.max_error_share` of the documents fail so.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import CleanConfig
from pipeline.io import file_shuffle, filesystems
from pipeline.run.stage import Stage, StageContext
from pipeline.text.cleaning import (
    FILTERS_VERSION,
    clean_document,
    drop_record,
    format_document,
    sentence_rows,
)
from pipeline.text.dedup import (
    document_hash,
    duplicate_documents,
    duplicate_ids,
    duplicate_paragraphs,
    id_loser,
    index_markers,
    paragraph_text,
    text_hash,
)
from pipeline.text.normalize import NORMALIZER_VERSION
from pipeline.text.sentences import SPLITTER_VERSION

NAME = layout.CLEAN

# ------------------------------------------------------------------ Beam steps
#
# Text is never shuffled. Each ingest shard is one task: phase 1 emits small
# keys (doc ids, content hashes), the dedup decisions are made by grouping
# those keys, and phase 2 re-reads the shard, cleans it again (cheap, and
# deterministic) and writes the output shard with the decisions applied.
# A document instance is identified by its ingest `source`, unique even when
# two instances share a doc_id.

ROWS_PER_ADD = 4096


def read_documents(path: str):
    """One ingest Parquet shard -> documents in file order (their rows are adjacent)."""
    current = None
    for row in filesystems.iter_parquet_rows(path):
        if current is None or row["source"] != current["source"]:
            if current is not None:
                yield current
            current = {
                "doc_id": row["doc_id"],
                "source": row["source"],
                "cpc_section": row["cpc_section"],
                "paragraphs": [],
            }
        current["paragraphs"].append(
            {"paragraph_index": row["paragraph_index"], "section": row["section"], "text": row["text"]}
        )
    if current is not None:
        yield current


def work_path(output_dir: str, index: int, num_shards: int) -> str:
    """Where phase 1 keeps a shard's cleaned documents for phase 2 (deleted after the run)."""
    return filesystems.shard_path(
        filesystems.join(output_dir, filesystems.TMP_DIR), "cleaned", index, num_shards, ".pkl"
    )


# Dedup keys are exchanged through scratch files (pipeline/io/file_shuffle.py), in
# this many hash partitions: one partition's keys are what a decision task
# holds (~150 bytes per key: ~60 MB per partition for 100M paragraph keys).
DEDUP_PARTITIONS = 256
# Keys a phase-1 task holds before it writes them out as one more key file.
SPILL_KEYS = 1_000_000


def key_partition(key: str) -> int:
    return filesystems.stable_shard(key, DEDUP_PARTITIONS)


class CleanAndKey(beam.DoFn):
    """Phase 1: (index, path) -> (partition, (kind, BlockRef)) for the shard's dedup keys,
    plus the cleaned shard saved for phase 2.

    A block holds one kind's keys of one hash partition: for "id",
    (doc_id, (source, index)) for every document instance; for those with
    text left, "document" (hash, (doc_id, source, index)) and "paragraph"
    (hash, (doc_id, source, index, paragraph_index)). A new key file starts
    every SPILL_KEYS keys, so a task's memory does not grow with its shard.
    Cleaning once and pickling the result is cheaper than cleaning again in
    phase 2.
    """

    def __init__(self, config: CleanConfig, output_dir: str, num_shards: int) -> None:
        self._config, self._output_dir, self._num_shards = config, output_dir, num_shards

    def _write_keys(self, keys: dict, index: int, segment: int):
        blocks = {place: file_shuffle.dump(values) for place, values in keys.items()}
        name = file_shuffle.unique_name(f"keys-{index:05d}-{segment:05d}")
        refs = file_shuffle.write_blocks(
            filesystems.join(self._output_dir, filesystems.TMP_DIR, name), blocks
        )
        for (partition, kind), ref in refs.items():
            yield partition, (kind, ref)

    def process(self, element):
        index, path = element
        config = self._config
        keys: dict[tuple[int, int], list] = {}
        held = segment = 0

        def add(kind: int, key: str, value: tuple) -> None:
            keys.setdefault((key_partition(key), kind), []).append((key, value))

        with filesystems.FileSystems.create(work_path(self._output_dir, index, self._num_shards)) as work:
            for doc in read_documents(path):
                if held >= SPILL_KEYS:
                    yield from self._write_keys(keys, index, segment)
                    keys, held, segment = {}, 0, segment + 1
                add(0, doc["doc_id"], (doc["source"], index))
                held += 1
                first_text = doc["paragraphs"][0]["text"] if doc["paragraphs"] else ""
                stub = {
                    "doc_id": doc["doc_id"],
                    "source": doc["source"],
                    "snippet": first_text[: config.snippet_chars],
                    "paragraph_count": len(doc["paragraphs"]),
                }
                cleaned, drops, error = clean_or_error(doc, config)
                if error:
                    stub["error"] = error
                pickle.dump((stub, cleaned, drops), work, protocol=pickle.HIGHEST_PROTOCOL)
                if not cleaned["paragraphs"]:
                    continue
                instance = (doc["doc_id"], doc["source"], index)
                if config.dedup_documents:
                    add(1, document_hash(cleaned), instance)
                    held += 1
                if config.dedup_paragraphs:
                    for p in cleaned["paragraphs"]:
                        text = paragraph_text(p)
                        if len(text) >= config.min_dedup_paragraph_chars:
                            add(2, text_hash(text), (*instance, p["paragraph_index"]))
                            held += 1
        yield from self._write_keys(keys, index, segment)


def clean_or_error(doc: dict, config: CleanConfig) -> tuple[dict, list[dict], str]:
    """clean_document, with any exception caught: (cleaned, drops, "") or
    (a cleaned document without paragraphs, [], the error), so one document
    that breaks a rule costs only itself (rejected as `clean_error`)."""
    try:
        return (*clean_document(doc, config), "")
    except Exception as e:  # noqa: BLE001 - fault isolation per document
        empty = {"doc_id": doc["doc_id"], "cpc_section": doc.get("cpc_section"), "paragraphs": []}
        return empty, [], f"{type(e).__name__}: {e}"[:300]


def grouped_keys(refs, kind: int) -> list[tuple[str, list]]:
    """One hash partition's keys of one kind (0 ids, 1 documents, 2 paragraphs), grouped
    by key, in key order: what a GroupByKey would give for the partition.
    `refs`: the partition's (kind, BlockRef)s."""
    groups: dict[str, list] = {}
    for block in file_shuffle.load_blocks(ref for k, ref in refs if k == kind):
        for key, value in block:
            groups.setdefault(key, []).append(value)
    return sorted(groups.items())


def decide_ids(element):
    """(partition, [(kind, BlockRef)]) -> (shard index, marker) for each duplicate document id."""
    _, refs = element
    for group in grouped_keys(refs, 0):
        yield from duplicate_ids(group)


def decide_texts(element, id_losers):
    """(partition, [(kind, BlockRef)]) -> (shard index, marker) for each duplicate document
    and paragraph text."""
    _, refs = element
    for group in grouped_keys(refs, 1):
        yield from duplicate_documents(group, id_losers)
    for group in grouped_keys(refs, 2):
        yield from duplicate_paragraphs(group, id_losers)


def store_markers(markers: Iterable[tuple[int, tuple]], folder: str, stem: str):
    """(shard index, marker)s -> (shard index, BlockRef) per shard, the markers written to one
    scratch file: a synthetic or heavily duplicated corpus has a marker for nearly
    every paragraph, too many to group through the runner."""
    by_shard: dict[int, list] = {}
    for index, marker in markers:
        by_shard.setdefault(index, []).append(marker)
    if by_shard:
        blocks = {index: file_shuffle.dump(found) for index, found in by_shard.items()}
        yield from file_shuffle.write_blocks(
            filesystems.join(folder, file_shuffle.unique_name(stem)), blocks
        ).items()


class DecideIds(beam.DoFn):
    """(partition, [(kind, BlockRef)]) -> (shard index, BlockRef of markers); tagged "losers":
    (source, True) for each instance that lost its id, for DecideTexts."""

    def __init__(self, output_dir: str) -> None:
        self._folder = filesystems.join(output_dir, filesystems.TMP_DIR)

    def process(self, element):
        markers = list(decide_ids(element))
        for marker in markers:
            yield beam.pvalue.TaggedOutput("losers", id_loser(marker))
        yield from store_markers(markers, self._folder, f"id-markers-{element[0]:05d}")


class DecideTexts(beam.DoFn):
    """(partition, [(kind, BlockRef)]) -> (shard index, BlockRef of markers)."""

    def __init__(self, output_dir: str) -> None:
        self._folder = filesystems.join(output_dir, filesystems.TMP_DIR)

    def process(self, element, id_losers):
        markers = decide_texts(element, id_losers)
        yield from store_markers(markers, self._folder, f"text-markers-{element[0]:05d}")


def read_work(path: str):
    """Phase 1's (stub, cleaned, drops) triples, in shard order."""
    with filesystems.FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


def reject_document(stub: dict, reason: str, detail: str, config: CleanConfig) -> dict:
    Metrics.counter(NAME, "rejected_documents").inc()
    Metrics.counter(NAME, f"rejected_documents_{reason}").inc()
    return drop_record("document", stub["doc_id"], reason, stub["snippet"], config, detail=detail)


def apply_markers(stub: dict, cleaned: dict | None, drops: list[dict], markers, config: CleanConfig):
    """Apply the dedup decisions to one cleaned document.

    Returns (the document to write, or None when rejected; drop/reject records).
    """
    doc_markers, paragraph_markers = markers
    source = stub["source"]
    if stub.get("error"):
        return None, [reject_document(stub, CLEAN_ERROR, stub["error"], config)]
    if source in doc_markers:
        reason, detail = doc_markers[source]
        return None, [reject_document(stub, reason, detail, config)]
    for record in drops:
        Metrics.counter(NAME, f"{record['kind']}s_dropped_{record['reason']}").inc()
    if not cleaned["paragraphs"]:
        return None, drops + [reject_document(stub, "no_text_after_cleaning", "", config)]
    duplicates = paragraph_markers.get(source, {})
    if duplicates:
        kept = []
        for p in cleaned["paragraphs"]:
            detail = duplicates.get(p["paragraph_index"])
            if detail is None:
                kept.append(p)
                continue
            Metrics.counter(NAME, "paragraphs_dropped_duplicate_paragraph").inc()
            drops.append(
                drop_record(
                    "paragraph",
                    stub["doc_id"],
                    "duplicate_paragraph",
                    paragraph_text(p),
                    config,
                    paragraph_index=p["paragraph_index"],
                    detail=detail,
                )
            )
        if not kept:
            return None, drops + [reject_document(stub, "all_paragraphs_duplicate", "", config)]
        cleaned = {**cleaned, "paragraphs": kept}
    return cleaned, drops


CLEAN_ERROR = "clean_error"


class ErrorShareExceeded(RuntimeError):
    """Cleaning failed on more documents than `clean.max_error_share` allows."""


def check_error_share(counts: tuple[int, int, list], max_share: float) -> tuple[int, int, list]:
    """(documents in, clean errors, a few "doc_id: error" examples) -> the same, or
    ErrorShareExceeded when the errors' share is over `max_share`."""
    documents, errors, examples = counts
    if documents and errors > max_share * documents:
        raise ErrorShareExceeded(
            f"{NAME}: cleaning failed on {errors} of {documents} documents ({errors / documents:.1%}), "
            f"more than max_error_share={max_share}: a rule fails systematically, e.g. "
            f"{'; '.join(examples)} (`--set clean.max_error_share=1` keeps them as {CLEAN_ERROR} rejects)"
        )
    return counts


ERROR_EXAMPLES = 3


def sum_counts(counts) -> tuple[int, int, list]:
    """Combine (documents, errors, examples) triples; keeps a few examples."""
    documents = errors = 0
    examples: list[str] = []
    for d, e, ex in counts:
        documents, errors = documents + d, errors + e
        examples = sorted(examples + list(ex))[:ERROR_EXAMPLES]
    return documents, errors, examples


class WriteCleanShard(beam.DoFn):
    """Phase 2: (index, {"markers": BlockRefs}) + the saved shard -> text, sentence table and
    rejects; yields the shard's (documents in, clean errors) for the error-share check."""

    def __init__(self, config: CleanConfig, output_dir: str, num_shards: int) -> None:
        self._config, self._output_dir, self._num_shards = config, output_dir, num_shards

    def _path(self, folder: str, index: int, ext: str) -> str:
        return filesystems.shard_path(
            filesystems.join(self._output_dir, folder), "part", index, self._num_shards, ext
        )

    def process(self, element):
        index, grouped = element
        config = self._config
        markers = index_markers(m for block in file_shuffle.load_blocks(grouped["markers"]) for m in block)
        progress = filesystems.Progress(NAME, "documents")
        sentences = filesystems.ParquetShardWriter(
            self._path("sentences", index, ".parquet"), layout.sentence_schema()
        )
        documents = errors = 0
        examples: list[str] = []
        # Rejects are written as they come: a shard's list could be large.
        with (
            filesystems.FileSystems.create(self._path("text", index, ".txt")) as text,
            filesystems.FileSystems.create(self._path("rejects", index, ".jsonl")) as rejects,
        ):
            for stub, cleaned, drops in read_work(work_path(self._output_dir, index, self._num_shards)):
                Metrics.counter(NAME, "documents_in").inc()
                Metrics.counter(NAME, "paragraphs_in").inc(stub["paragraph_count"])
                documents += 1
                if stub.get("error"):
                    errors += 1
                    if len(examples) < ERROR_EXAMPLES:
                        examples.append(f"{stub['doc_id']}: {stub['error']}")
                cleaned, drops = apply_markers(stub, cleaned, drops, markers, config)
                filesystems.write_jsonl(rejects, drops)
                progress.tick()
                if cleaned is None:
                    continue
                text.write(format_document(cleaned, config.blank_line_between).encode("utf-8"))
                rows = sentence_rows(cleaned)
                # In slices, so that one giant document never becomes one
                # giant Arrow table next to its rows (a 50 MB publication
                # has half a million sentences).
                for start in range(0, len(rows), ROWS_PER_ADD):
                    sentences.add(rows[start : start + ROWS_PER_ADD])
                Metrics.counter(NAME, "documents_written").inc()
                Metrics.counter(NAME, "paragraphs_written").inc(len(cleaned["paragraphs"]))
                Metrics.counter(NAME, "sentences_written").inc(len(rows))
                Metrics.counter(NAME, "chars_written").inc(sum(len(r["text"]) for r in rows))
        sentences.close()
        yield documents, errors, examples


class CleanDocuments(beam.PTransform):
    """Ingest paragraph shards -> BERT text shards, sentence tables and rejects (one per ingest shard)."""

    def __init__(self, paragraphs_glob: str, num_shards: int, config: CleanConfig, output_dir: str) -> None:
        super().__init__()
        self._glob, self._num_shards = paragraphs_glob, num_shards
        self._config, self._output_dir = config, output_dir

    def expand(self, pipeline):
        config, n = self._config, self._num_shards
        shards = (
            pipeline
            | "Match" >> fileio.MatchFiles(self._glob)
            | "ShardIndex" >> beam.Map(layout.parquet_shard)
            # One element per shard: spread them over the workers.
            | "Spread" >> beam.Reshuffle()
        )
        # The keys go through scratch files; Beam groups only their BlockRefs
        # (the DirectRunner would hold every key of the corpus in its process).
        partitions = (
            shards
            | "CleanAndKey" >> beam.ParDo(CleanAndKey(config, self._output_dir, n))
            | "GroupPartitions" >> beam.GroupByKey()
        )
        ids = partitions | "DuplicateIds" >> beam.ParDo(DecideIds(self._output_dir)).with_outputs(
            "losers", main="markers"
        )
        texts = partitions | "DuplicateTexts" >> beam.ParDo(
            DecideTexts(self._output_dir), beam.pvalue.AsDict(ids.losers)
        )
        # The markers too go through scratch files; Beam groups their BlockRefs by shard.
        markers = (ids.markers, texts) | "AllMarkers" >> beam.Flatten()
        # Phase 2 reads phase 1's saved shards, so it must wait for phase 1 to
        # finish: the markers can only be complete after it anyway.
        return (
            {"markers": markers}
            | "JoinMarkers" >> filesystems.JoinByShard(n)
            | "WriteShards" >> beam.ParDo(WriteCleanShard(config, self._output_dir, n))
            | "CountErrors" >> beam.CombineGlobally(sum_counts)
            | "CheckErrorShare" >> beam.Map(check_error_share, config.max_error_share)
        )


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    glob = filesystems.join(ctx.upstream_dirs[layout.INGEST], layout.PARAGRAPHS, "part-*.parquet")
    num_shards = ctx.upstream_section(layout.INGEST).num_shards
    _ = p | "Clean" >> CleanDocuments(glob, num_shards, ctx.config.clean, ctx.output_dir)


STAGE = Stage(
    name=NAME,
    upstream=(layout.INGEST,),
    versions={
        "splitter": SPLITTER_VERSION,
        "normalizer": NORMALIZER_VERSION,
        "filters": FILTERS_VERSION,
    },
    build=build,
    description="paragraphs -> normalised, split, filtered, deduplicated BERT text",
    accounting=("documents_in", "documents_written", "rejected_documents", "sentences_written"),
)
