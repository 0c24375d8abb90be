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
doc_id keeps the text. Near-duplicate publications
(`pipeline.text.near_duplicates`, `clean.near_duplicates`): MinHash signatures
per shard, LSH band keys grouped across the corpus, candidate pairs confirmed
from the signatures, clusters resolved to their smallest id; the others are
rejected as `near_duplicate_document` with the id they duplicate. This module
moves the keys, signatures and markers through scratch files (or, with
`runner.exchange: beam`, the default on Dataflow, through Beam's GroupByKey:
the same blocks, the same output) and writes the shards.
Accounting: documents_in = documents_written + rejected_documents.
Fault isolation: a document on which cleaning raises is rejected as
`clean_error` (with the error and a snippet) and the run goes on; the stage
fails when more than `clean.max_error_share` of the documents fail so.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable

import apache_beam as beam
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
from pipeline.text.near_duplicates import (
    NEAR_DUPLICATES_VERSION,
    MinHasher,
    NearDuplicateParams,
    attach_signatures,
    band_keys,
    bucket_pairs,
    confirm_attached,
    is_large_bucket,
    paragraph_keys,
    publication_signature,
    removals,
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
# holds (~200 bytes per key: ~80 MB per partition for 100M paragraph keys).
DEDUP_PARTITIONS = 256
# Keys a phase-1 task holds before it writes them out as one more key file: ~200 bytes
# each as Python tuples (measured), so ~50 MB. A shard's keys are ~115 per publication
# with near-duplicate detection on (ids, hashes, 20 whole-text and ~62 paragraph band
# keys), so a shard of 6,800 publications (KorPatBERT's corpus in 600 shards) writes
# ~3 key files.
SPILL_KEYS = 250_000


def exchange_of(output_dir: str, mode: str) -> file_shuffle.Exchange:
    """The stage's exchange (`runner.exchange`); scratch files go to the work folder."""
    return file_shuffle.Exchange(mode, filesystems.join(output_dir, filesystems.TMP_DIR))


def key_partition(key: str | bytes) -> int:
    if isinstance(key, bytes):  # a band key: already a digest
        return int.from_bytes(key[-4:], "big") % DEDUP_PARTITIONS
    return filesystems.stable_shard(key, DEDUP_PARTITIONS)


# Key kinds in the partitions: ids, document hashes, paragraph hashes, and the
# near-duplicate band keys of whole texts and of paragraphs.
ID, DOCUMENT, PARAGRAPH, WHOLE_BAND, PARAGRAPH_BAND = range(5)


def signature_path(output_dir: str, index: int, num_shards: int) -> str:
    """Where phase 1 keeps a shard's near-duplicate signatures, (source, PublicationSignature)
    pickled one after another, for the confirmation steps (deleted after the run)."""
    return filesystems.shard_path(
        filesystems.join(output_dir, filesystems.TMP_DIR), "signatures", index, num_shards, ".pkl"
    )


# Near-duplicate candidates and pairs a task holds before it sends them on as one more
# scratch file (a pair carries ~1-2 kB of signature).
SPILL_PAIRS = 50_000
# Read buffers a task shares between the blocks it merges.
MERGE_BUFFER_BYTES = 32 << 20


class CleanAndKey(beam.DoFn):
    """Phase 1: (index, path) -> (partition, (kind, Block)) for the shard's dedup keys,
    plus the cleaned shard saved for phase 2.

    A block holds one kind's keys of one hash partition: for ID,
    (doc_id, (source, index)) for every document instance; for those with
    text left, DOCUMENT (hash, (doc_id, source, index)) and PARAGRAPH
    (hash, (doc_id, source, index, paragraph_index)); with near-duplicate
    detection on, WHOLE_BAND (band key, (doc_id, source, index, ordinal)) and
    PARAGRAPH_BAND (band key, (doc_id, source, index, ordinal, paragraph rank)), the
    signatures themselves going to the shard's signature file, `ordinal` being the
    signature's position there. A new key file starts every SPILL_KEYS keys, so a
    task's memory does not grow with its shard.
    Cleaning once and pickling the result is cheaper than cleaning again in
    phase 2.
    """

    def __init__(
        self, config: CleanConfig, output_dir: str, num_shards: int, exchange: str = file_shuffle.FILES
    ) -> None:
        self._config, self._output_dir, self._num_shards = config, output_dir, num_shards
        self._exchange = exchange_of(output_dir, exchange)
        self._near = config.near_duplicates.enabled
        self._params = NearDuplicateParams.of(config.near_duplicates)

    def setup(self) -> None:
        self._hasher = MinHasher(self._params.num_perm, self._params.seed)

    def _write_keys(self, keys: dict, index: int, segment: int):
        blocks = {place: file_shuffle.dump(values) for place, values in keys.items()}
        refs = self._exchange.send(f"keys-{index:05d}-{segment:05d}", blocks)
        for (partition, kind), ref in refs.items():
            yield partition, (kind, ref)

    def process(self, element):
        index, path = element
        config = self._config
        keys: dict[tuple[int, int], list] = {}
        held = segment = ordinal = 0

        def add(kind: int, key: str | bytes, value: tuple) -> None:
            keys.setdefault((key_partition(key), kind), []).append((key, value))

        signatures = (
            filesystems.FileSystems.create(signature_path(self._output_dir, index, self._num_shards))
            if self._near
            else None
        )
        with filesystems.FileSystems.create(work_path(self._output_dir, index, self._num_shards)) as work:
            for doc in read_documents(path):
                if held >= SPILL_KEYS:
                    yield from self._write_keys(keys, index, segment)
                    keys, held, segment = {}, 0, segment + 1
                add(ID, doc["doc_id"], (doc["source"], index))
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
                    add(DOCUMENT, document_hash(cleaned), instance)
                    held += 1
                if config.dedup_paragraphs:
                    for p in cleaned["paragraphs"]:
                        text = paragraph_text(p)
                        if len(text) >= config.min_dedup_paragraph_chars:
                            add(PARAGRAPH, text_hash(text), (*instance, p["paragraph_index"]))
                            held += 1
                if self._near:
                    held += self._add_bands(add, signatures, (*instance, ordinal), cleaned)
                    ordinal += 1
        if signatures is not None:
            signatures.close()
        yield from self._write_keys(keys, index, segment)

    def _add_bands(self, add, signatures, instance: tuple, cleaned: dict) -> int:
        """The document's signature to the signature file, its band keys to `add`; returns
        the number of keys. `instance`: (doc_id, source, shard index, ordinal in the
        signature file). Paragraph keys carry the position in the signature (the
        cleaned paragraph's rank), which the confirmation reads."""
        params = self._params
        texts = [paragraph_text(p) for p in cleaned["paragraphs"]]
        signature = publication_signature(instance[0], texts, self._hasher, params)
        pickle.dump((instance[1], signature), signatures, protocol=pickle.HIGHEST_PROTOCOL)
        whole = band_keys(signature.whole, params.bands, params.rows)
        for key in whole:
            add(WHOLE_BAND, key, instance)
        paragraphs = paragraph_keys(signature, params)
        for key, rank in paragraphs:
            add(PARAGRAPH_BAND, key, (*instance, rank))
        return len(whole) + len(paragraphs)


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
    """One hash partition's keys of one kind (ID, DOCUMENT, ...), grouped
    by key, in key order: what a GroupByKey would give for the partition.
    `refs`: the partition's (kind, Block)s."""
    groups: dict[str, list] = {}
    for block in file_shuffle.load_blocks(ref for k, ref in refs if k == kind):
        for key, value in block:
            groups.setdefault(key, []).append(value)
    return sorted(groups.items())


def decide_ids(element):
    """(partition, [(kind, Block)]) -> (shard index, marker) for each duplicate document id."""
    _, refs = element
    for group in grouped_keys(refs, ID):
        yield from duplicate_ids(group)


def decide_texts(element, id_losers, near_losers=None):
    """(partition, [(kind, Block)]) -> (shard index, marker) for each duplicate document
    and paragraph text. Near-duplicate losers (source -> True) take no part in the
    paragraph decisions: a paragraph they alone share with a third document must
    stay in that one."""
    _, refs = element
    for group in grouped_keys(refs, DOCUMENT):
        yield from duplicate_documents(group, id_losers)
    losers = {**id_losers, **near_losers} if near_losers else id_losers
    for group in grouped_keys(refs, PARAGRAPH):
        yield from duplicate_paragraphs(group, losers)


def near_candidates(element, id_losers, max_bucket_size: int):
    """(partition, [(kind, Block)]) -> (shard index of a, a's ordinal, (a, b, a's paragraph
    rank, b's)) for each candidate pair of instances a < b, (doc_id, source, shard
    index, ordinal), sharing a band key; rank -1 for whole-text keys. A pair sharing
    several keys comes once per key (the shard of a merges them); instances that lost
    their id take no part. Counts the buckets too large to pair in full."""
    _, refs = element
    for kind, whole in ((WHOLE_BAND, True), (PARAGRAPH_BAND, False)):
        for _, members in grouped_keys(refs, kind):
            members = [m for m in members if m[1] not in id_losers]
            if is_large_bucket(members, max_bucket_size):
                Metrics.counter(NAME, "near_duplicate_large_buckets").inc()
            for a, b in bucket_pairs(members, max_bucket_size, whole):
                if whole:
                    yield a[2], a[3], (a, b, -1, -1)
                else:
                    yield a[2], a[3], (a[:4], b[:4], a[4], b[4])


def framed_pairs(blocks):
    """A task's blocks of pickled candidates or pairs, each sorted by ordinal -> one
    stream of (ordinal, item) in ordinal order."""
    for ordinal, _, data in file_shuffle.merged_frames(blocks, MERGE_BUFFER_BYTES):
        yield ordinal, pickle.loads(data)


def spill_pairs(items, exchange: file_shuffle.Exchange, stem: str):
    """(shard index, ordinal, item)s -> (shard index, Block)s of framed items sorted by
    ordinal, a scratch file every SPILL_PAIRS items."""
    spill = file_shuffle.SortedSpill(exchange, stem, SPILL_PAIRS)
    for index, ordinal, item in items:
        yield from spill.add(index, ordinal, 0, pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
    yield from spill.flush()


def near_duplicate_markers(confirmed) -> list[tuple[int, tuple]]:
    """All confirmed pairs -> (shard index, marker) for each instance to remove: the
    cluster's smallest (doc_id, source) is kept, the detail names it."""
    out = []
    for found in removals(dict(confirmed)):
        (_, source, index), kept, paired = found.doc_id, found.duplicate_of, found.paired_with
        detail = (
            f"near duplicate of {kept[0]} (paired with {paired[0]}: estimated Jaccard {found.jaccard:.2f}, "
            f"{found.contained:.0%} of its text in near-duplicate paragraphs)"
        )
        out.append((index, ("near_duplicate_document", source, -1, detail)))
    return out


def store_markers(markers: Iterable[tuple[int, tuple]], exchange: file_shuffle.Exchange, stem: str):
    """(shard index, marker)s -> (shard index, Block) per shard, the markers in one block
    per shard (exchange `files`: written to one scratch file, since a synthetic or heavily
    duplicated corpus has a marker for nearly every paragraph, too many to group through
    the DirectRunner)."""
    by_shard: dict[int, list] = {}
    for index, marker in markers:
        by_shard.setdefault(index, []).append(marker)
    if by_shard:
        blocks = {index: file_shuffle.dump(found) for index, found in by_shard.items()}
        yield from exchange.send(stem, blocks).items()


class DecideIds(beam.DoFn):
    """(partition, [(kind, Block)]) -> (shard index, Block of markers); tagged "losers":
    (source, True) for each instance that lost its id, for DecideTexts."""

    def __init__(self, output_dir: str, exchange: str = file_shuffle.FILES) -> None:
        self._exchange = exchange_of(output_dir, exchange)

    def process(self, element):
        markers = list(decide_ids(element))
        for marker in markers:
            yield beam.pvalue.TaggedOutput("losers", id_loser(marker))
        yield from store_markers(markers, self._exchange, f"id-markers-{element[0]:05d}")


class DecideTexts(beam.DoFn):
    """(partition, [(kind, Block)]) -> (shard index, Block of markers)."""

    def __init__(self, output_dir: str, exchange: str = file_shuffle.FILES) -> None:
        self._exchange = exchange_of(output_dir, exchange)

    def process(self, element, id_losers, near_losers=None):
        markers = decide_texts(element, id_losers, near_losers)
        yield from store_markers(markers, self._exchange, f"text-markers-{element[0]:05d}")


class FindNearCandidates(beam.DoFn):
    """(partition, [(kind, Block)]) -> (shard index, Block of candidate pairs), by the
    shard of each pair's smaller instance (`near_candidates`), sorted by its ordinal."""

    def __init__(self, output_dir: str, max_bucket_size: int, exchange: str = file_shuffle.FILES) -> None:
        self._exchange = exchange_of(output_dir, exchange)
        self._max_bucket_size = max_bucket_size

    def process(self, element, id_losers):
        candidates = near_candidates(element, id_losers, self._max_bucket_size)
        yield from spill_pairs(candidates, self._exchange, f"near-candidates-{element[0]:05d}")


class AttachSignatures(beam.DoFn):
    """(index, {"candidates": Blocks}) -> (shard index of b, Block of pairs with a's
    signature, sorted by b's ordinal) (`attach_signatures`)."""

    def __init__(self, output_dir: str, num_shards: int, exchange: str = file_shuffle.FILES) -> None:
        self._output_dir, self._num_shards = output_dir, num_shards
        self._exchange = exchange_of(output_dir, exchange)

    def process(self, element):
        index, grouped = element
        signatures = read_work(signature_path(self._output_dir, index, self._num_shards))
        pairs = attach_signatures(framed_pairs(grouped["candidates"]), signatures)
        yield from spill_pairs(pairs, self._exchange, f"near-pairs-{index:05d}")


class ConfirmNearPairs(beam.DoFn):
    """(index, {"pairs": Blocks}) -> ((a, b), (Jaccard, a's share, b's share)) per confirmed
    pair (`confirm_attached`)."""

    def __init__(self, params: NearDuplicateParams, output_dir: str, num_shards: int) -> None:
        self._params, self._output_dir, self._num_shards = params, output_dir, num_shards

    def process(self, element):
        index, grouped = element
        signatures = read_work(signature_path(self._output_dir, index, self._num_shards))
        for pair, found in confirm_attached(framed_pairs(grouped["pairs"]), signatures, self._params):
            Metrics.counter(NAME, "near_duplicate_candidate_pairs").inc()
            if found:
                Metrics.counter(NAME, "near_duplicate_pairs_confirmed").inc()
                yield pair, found


class ResolveNearDuplicates(beam.DoFn):
    """[all confirmed pairs] -> (shard index, Block of markers); tagged "losers": (source, True)
    for each removed instance, for DecideTexts. One task: it holds the confirmed pairs
    (~100 bytes each), which grow with the duplicates, not with the corpus's text."""

    def __init__(self, output_dir: str, exchange: str = file_shuffle.FILES) -> None:
        self._exchange = exchange_of(output_dir, exchange)

    def process(self, confirmed):
        markers = near_duplicate_markers(confirmed)
        for _, marker in markers:
            yield beam.pvalue.TaggedOutput("losers", (marker[1], True))
        yield from store_markers(markers, self._exchange, "near-markers")


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
    """Phase 2: (index, {"markers": Blocks}) + the saved shard -> text, sentence table and
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


class FindNearDuplicates(beam.PTransform):
    """Grouped key partitions -> markers of near-duplicate documents, and their sources
    ("losers").

    Three exchanges, each through scratch files and JoinByShard: band buckets give
    candidate pairs (ids only) sent to the shard of the smaller instance; that shard
    reads its signature file and sends the instance's signature to the shard of the
    other, which reads the other's and confirms the pair. The confirmed pairs are
    resolved in one task (the clusters' smallest instance is kept).
    """

    def __init__(
        self,
        config: CleanConfig,
        output_dir: str,
        num_shards: int,
        id_losers,
        exchange: str = file_shuffle.FILES,
    ) -> None:
        super().__init__()
        self._params = NearDuplicateParams.of(config.near_duplicates)
        self._output_dir, self._num_shards, self._id_losers = output_dir, num_shards, id_losers
        self._exchange = exchange

    def expand(self, partitions):
        out, n, exchange = self._output_dir, self._num_shards, self._exchange
        candidates = partitions | "Candidates" >> beam.ParDo(
            FindNearCandidates(out, self._params.max_bucket_size, exchange),
            beam.pvalue.AsDict(self._id_losers),
        )
        pairs = (
            {"candidates": candidates}
            | "JoinCandidates" >> filesystems.JoinByShard(n)
            | "AttachSignatures" >> beam.ParDo(AttachSignatures(out, n, exchange))
        )
        return (
            {"pairs": pairs}
            | "JoinPairs" >> filesystems.JoinByShard(n)
            | "Confirm" >> beam.ParDo(ConfirmNearPairs(self._params, out, n))
            | "AllConfirmed" >> beam.combiners.ToList()
            | "Resolve"
            >> beam.ParDo(ResolveNearDuplicates(out, exchange)).with_outputs("losers", main="markers")
        )


class CleanDocuments(beam.PTransform):
    """Ingest paragraph shards -> BERT text shards, sentence tables and rejects (one per ingest shard)."""

    def __init__(
        self,
        paragraphs_glob: str,
        num_shards: int,
        config: CleanConfig,
        output_dir: str,
        exchange: str = file_shuffle.FILES,
        after=None,
    ) -> None:
        super().__init__()
        self._glob, self._num_shards = paragraphs_glob, num_shards
        self._config, self._output_dir, self._exchange = config, output_dir, exchange
        self._after = after  # ingest's completion element when fused into its job

    def expand(self, pipeline):
        config, n, exchange = self._config, self._num_shards, self._exchange
        shards = (
            filesystems.match_files(pipeline, self._glob, self._after)
            | "ShardIndex" >> beam.Map(layout.parquet_shard)
            # One element per shard: spread them over the workers.
            | "Spread" >> beam.Reshuffle()
        )
        # Exchange `files`: the keys go through scratch files and Beam groups only their
        # BlockRefs (the DirectRunner would hold every key of the corpus in its process);
        # `beam`: the grouping carries the key blocks themselves.
        partitions = (
            shards
            | "CleanAndKey" >> beam.ParDo(CleanAndKey(config, self._output_dir, n, exchange))
            | "GroupPartitions" >> beam.GroupByKey()
        )
        ids = partitions | "DuplicateIds" >> beam.ParDo(DecideIds(self._output_dir, exchange)).with_outputs(
            "losers", main="markers"
        )
        all_markers = [ids.markers]
        near_losers = []
        if config.near_duplicates.enabled:
            near = partitions | "NearDuplicates" >> FindNearDuplicates(
                config, self._output_dir, n, ids.losers, exchange
            )
            all_markers.append(near.markers)
            near_losers = [beam.pvalue.AsDict(near.losers)]
        # With the near-duplicate losers as a side input, the text decisions cannot share a
        # fused stage with the near-duplicate candidates, which also read `partitions`;
        # Beam's portable runner leaves such a stage waiting for ever (apache/beam#26190):
        # the reshuffle (of BlockRefs only, with exchange `files`) separates them.
        texts = (partitions | "SeparateTexts" >> beam.Reshuffle() if near_losers else partitions) | (
            "DuplicateTexts"
        ) >> beam.ParDo(DecideTexts(self._output_dir, exchange), beam.pvalue.AsDict(ids.losers), *near_losers)
        all_markers.append(texts)
        # The markers too go through the exchange, grouped by shard.
        markers = tuple(all_markers) | "AllMarkers" >> beam.Flatten()
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
    return p | "Clean" >> CleanDocuments(
        glob,
        num_shards,
        ctx.config.clean,
        ctx.output_dir,
        ctx.config.runner.resolved_exchange,
        after=ctx.after(layout.INGEST),
    )


STAGE = Stage(
    name=NAME,
    upstream=(layout.INGEST,),
    versions={
        "splitter": SPLITTER_VERSION,
        "normalizer": NORMALIZER_VERSION,
        "filters": FILTERS_VERSION,
        "near_duplicates": NEAR_DUPLICATES_VERSION,
    },
    build=build,
    description="paragraphs -> normalised, split, filtered, deduplicated BERT text",
    accounting=("documents_in", "documents_written", "rejected_documents", "sentences_written"),
    fusable=True,
)
