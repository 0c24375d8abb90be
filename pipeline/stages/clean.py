"""Stage `clean`: paragraphs -> Google BERT pretraining text, one sentence per line.

In:  `<output_root>/ingest/paragraphs/*.parquet`.
Out: `text/part-NNNNN-of-NNNNN.txt`: UTF-8, one sentence per line, a blank line
     after every paragraph (or only between documents, `blank_line_between`);
     `sentences/part-*.parquet`: doc_id, cpc_section, paragraph_index, section,
     sentence_index, text, for later stages;
     `rejects/part-*.jsonl`: every dropped document, paragraph and sentence with
     its reason and a snippet.

Per document: strip markup, normalise (NFC by default, see README), split
sentences (`pipeline.text.sentences`), filter sentences (length, Hangul share,
repeated-character junk). Across documents: exact dedup of whole documents and
of paragraphs repeated in other documents; the smallest doc_id keeps the text.
Accounting: documents_in = documents_written + rejected_documents.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import re
import unicodedata
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import CleanConfig
from pipeline.io import file_shuffle, filesystems
from pipeline.run.stage import Stage, StageContext
from pipeline.text.sentences import SPLITTER_VERSION, split_sentences

NAME = "clean"
NORMALIZER_VERSION = "normalize_v1"
FILTERS_VERSION = "filters_v1"

# ------------------------------------------------------------------ normalisation

# Tables and formulas are not prose: drop them with their content.
_BLOCK_MARKUP = re.compile(
    r"<(tables?|maths?|chemistry|chem|figure)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
# Inline tags seen in patent XML and in JSON dumps made from it. Only known
# names are removed, so a literal "a < b" in a formula survives.
_INLINE_TAG = re.compile(
    r"</?(?:br|sub|sup|b|i|u|em|strong|span|font|p|figref|img|patcit|nplcit|crossref|"
    r"claim-ref|o|smallcaps|table|tr|td|th|thead|tbody|entry|row|colspec|tgroup)\b[^>]*/?>",
    re.IGNORECASE,
)
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
# Whitespace other than single spaces: most paragraphs have none, and a
# search is much cheaper than a substitution that rebuilds the string.
_IRREGULAR_WHITESPACE = re.compile(r"[^\S ]| {2}")
# Full-width ASCII (U+FF01..U+FF5E) maps to ASCII by a fixed offset.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space


def strip_markup(text: str) -> str:
    """Remove known XML/HTML markup; `<br/>` becomes a space, `SiO<sub>2</sub>` -> SiO2."""
    if "<" not in text:
        return text
    text = _BLOCK_MARKUP.sub(" ", text)
    text = _BREAK_TAG.sub(" ", text)
    return _INLINE_TAG.sub("", text)


def _drop_control(text: str) -> str:
    # Cc (NUL, escape codes...) become spaces so words do not glue together;
    # Cf (zero-width space, BOM, soft hyphen, bidi marks) vanish. Tabs and
    # newlines are whitespace and are collapsed just after.
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc" and ch not in "\t\n\r":
            out.append(" ")
        elif cat in ("Cf", "Co", "Cs") or ch == "\ufffd":
            continue
        else:
            out.append(ch)
    return "".join(out)


_NEEDS_CONTROL_PASS = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffd\ue000-\uf8ff]"
)


_HAS_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")
_ANYTHING_TO_FIX = re.compile(
    "|".join((_HAS_FULLWIDTH.pattern, _NEEDS_CONTROL_PASS.pattern, _IRREGULAR_WHITESPACE.pattern))
)


def normalize_text(text: str, form: str = "NFC", fold_fullwidth: bool = True) -> str:
    """Markup-free text -> one normalised line. Never lower-cases, never strips accents."""
    text = unicodedata.normalize(form, text)
    # Most paragraphs need none of the fixes below: one scan says so.
    if not _ANYTHING_TO_FIX.search(text):
        return text.strip()
    # str.translate with a dict costs a lookup per character: only pay it
    # when there is something to fold.
    if fold_fullwidth and _HAS_FULLWIDTH.search(text):
        text = text.translate(_FULLWIDTH)
    if _NEEDS_CONTROL_PASS.search(text):
        text = _drop_control(text)
    if _IRREGULAR_WHITESPACE.search(text):
        text = _WHITESPACE.sub(" ", text)
    return text.strip()


# ------------------------------------------------------------------ filters

_NON_HANGUL_RUN = re.compile(r"[^\uac00-\ud7a3 ]+")


def hangul_ratio(sentence: str) -> float:
    """Share of Hangul syllables among non-space characters."""
    total = len(sentence) - sentence.count(" ")
    if not total:
        return 0.0
    # Count what is not Hangul: in Korean text those runs (numbers,
    # punctuation, Latin words) are far fewer than the Hangul ones.
    return (total - sum(map(len, _NON_HANGUL_RUN.findall(sentence)))) / total


@functools.lru_cache(maxsize=8)
def _char_run_pattern(max_run: int) -> re.Pattern:
    return re.compile(rf"(.)\1{{{max_run}}}")


def sentence_drop_reason(sentence: str, config: CleanConfig) -> str | None:
    """None when the sentence is kept, else the reason it is dropped."""
    n = len(sentence)
    if n < config.min_sentence_chars:
        return "too_short"
    if n > config.max_sentence_chars:
        return "too_long"
    if hangul_ratio(sentence) < config.min_hangul_ratio:
        return "low_hangul"
    # Cheap pre-check: a long run needs the same character max_char_run times.
    if _char_run_pattern(config.max_char_run).search(sentence):
        return "repeated_chars"
    return None


# ------------------------------------------------------------------ documents


def _drop(kind: str, doc_id: str, reason: str, text: str, config: CleanConfig, **where) -> dict:
    return {
        "stage": NAME,
        "kind": kind,
        "doc_id": doc_id,
        "paragraph_index": where.get("paragraph_index", -1),
        "sentence_index": where.get("sentence_index", -1),
        "reason": reason,
        "detail": where.get("detail", ""),
        "snippet": text[: config.snippet_chars],
    }


def clean_document(doc: dict, config: CleanConfig) -> tuple[dict, list[dict]]:
    """A document from `ingest` -> (cleaned document, drop records).

    The cleaned document keeps only paragraphs with at least one sentence
    left; each keeps its original paragraph_index and section.
    """
    doc_id = doc["doc_id"]
    paragraphs, drops = [], []
    for para in doc["paragraphs"]:
        index = para["paragraph_index"]
        text = normalize_text(strip_markup(para["text"]), config.unicode_form, config.fold_fullwidth)
        kept = []
        for s_index, sentence in enumerate(split_sentences(text)):
            reason = sentence_drop_reason(sentence, config)
            if reason is None:
                kept.append(sentence)
            else:
                drops.append(
                    _drop(
                        "sentence",
                        doc_id,
                        reason,
                        sentence,
                        config,
                        paragraph_index=index,
                        sentence_index=s_index,
                    )
                )
        if kept:
            paragraphs.append({"paragraph_index": index, "section": para["section"], "sentences": kept})
        else:
            drops.append(_drop("paragraph", doc_id, "no_sentences_left", text, config, paragraph_index=index))
    cleaned = {"doc_id": doc_id, "cpc_section": doc.get("cpc_section"), "paragraphs": paragraphs}
    return cleaned, drops


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def document_hash(cleaned: dict) -> str:
    return text_hash("\n\n".join("\n".join(p["sentences"]) for p in cleaned["paragraphs"]))


def paragraph_text(paragraph: dict) -> str:
    return " ".join(paragraph["sentences"])


def format_document(cleaned: dict, blank_line_between: str) -> str:
    """A cleaned document in Google BERT's layout (one sentence per line)."""
    if blank_line_between == "paragraphs":
        return "".join("\n".join(p["sentences"]) + "\n\n" for p in cleaned["paragraphs"])
    return "\n".join(s for p in cleaned["paragraphs"] for s in p["sentences"]) + "\n\n"


def sentence_rows(cleaned: dict) -> list[dict]:
    return [
        {
            "doc_id": cleaned["doc_id"],
            "cpc_section": cleaned["cpc_section"],
            "paragraph_index": p["paragraph_index"],
            "section": p["section"],
            "sentence_index": i,
            "text": s,
        }
        for p in cleaned["paragraphs"]
        for i, s in enumerate(p["sentences"])
    ]


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


def duplicate_ids(element):
    """(doc_id, [(source, index)...]) -> a marker for every instance but the first source."""
    _, instances = element
    ordered = sorted(instances)
    for source, index in ordered[1:]:
        yield index, ("duplicate_doc_id", source, -1, f"same id as {ordered[0][0]}")


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
                cleaned, drops = clean_document(doc, config)
                first_text = doc["paragraphs"][0]["text"] if doc["paragraphs"] else ""
                stub = {
                    "doc_id": doc["doc_id"],
                    "source": doc["source"],
                    "snippet": first_text[: config.snippet_chars],
                    "paragraph_count": len(doc["paragraphs"]),
                }
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


def id_loser(marker) -> tuple[str, bool]:
    """A duplicate-id marker -> (source, True), for a side-input lookup."""
    return marker[1][1], True


def duplicate_documents(element, id_losers):
    """(hash, [(doc_id, source, index)...]) -> a marker for all but the smallest (doc_id, source).

    Instances already rejected as duplicate ids take no part: the text must
    survive in a document that is kept.
    """
    _, instances = element
    ordered = [i for i in sorted(instances) if i[1] not in id_losers]
    winner = ordered[0][0] if ordered else ""
    for _, source, index in ordered[1:]:
        yield index, ("duplicate_document", source, -1, f"same text as {winner}")


def duplicate_paragraphs(element, id_losers):
    """(hash, [(doc_id, source, index, paragraph)...]) -> a marker for all but the first place."""
    _, places = element
    ordered = [p for p in sorted(places) if p[1] not in id_losers]
    winner = f"{ordered[0][0]}#{ordered[0][3]}" if ordered else ""
    for _, source, index, paragraph_index in ordered[1:]:
        yield index, ("duplicate_paragraph", source, paragraph_index, f"same text as {winner}")


def reject_document(stub: dict, reason: str, detail: str, config: CleanConfig) -> dict:
    Metrics.counter(NAME, "rejected_documents").inc()
    Metrics.counter(NAME, f"rejected_documents_{reason}").inc()
    return _drop("document", stub["doc_id"], reason, stub["snippet"], config, detail=detail)


def apply_markers(stub: dict, cleaned: dict | None, drops: list[dict], markers, config: CleanConfig):
    """Apply the dedup decisions to one cleaned document.

    Returns (the document to write, or None when rejected; drop/reject records).
    """
    doc_markers, paragraph_markers = markers
    source = stub["source"]
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
                _drop(
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


def index_markers(markers) -> tuple[dict, dict]:
    """Markers of one shard -> ({source: (reason, detail)}, {source: {paragraph: detail}})."""
    doc_markers: dict = {}
    paragraph_markers: dict = {}
    # Sorted so that, when an instance is both a duplicate id and a duplicate
    # document, the reason recorded is the same on every run.
    for reason, source, paragraph_index, detail in sorted(markers):
        if paragraph_index >= 0:
            paragraph_markers.setdefault(source, {})[paragraph_index] = detail
        else:
            doc_markers.setdefault(source, (reason, detail))
    return doc_markers, paragraph_markers


class WriteCleanShard(beam.DoFn):
    """Phase 2: (index, {"markers": BlockRefs}) + the saved shard -> text, sentence table and rejects."""

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
        # Rejects are written as they come: a shard's list could be large.
        with (
            filesystems.FileSystems.create(self._path("text", index, ".txt")) as text,
            filesystems.FileSystems.create(self._path("rejects", index, ".jsonl")) as rejects,
        ):
            for stub, cleaned, drops in read_work(work_path(self._output_dir, index, self._num_shards)):
                Metrics.counter(NAME, "documents_in").inc()
                Metrics.counter(NAME, "paragraphs_in").inc(stub["paragraph_count"])
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
        yield index


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
