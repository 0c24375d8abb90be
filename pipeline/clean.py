"""Stage `clean`: paragraphs -> Google BERT pretraining text, one sentence per line.

In:  `<output_root>/ingest/paragraphs/*.parquet`.
Out: `text/part-NNNNN-of-NNNNN.txt`: UTF-8, one sentence per line, a blank line
     after every paragraph (or only between documents, `blank_line_between`);
     `sentences/part-*.parquet`: doc_id, cpc_section, paragraph_index, section,
     sentence_index, text, for later stages;
     `rejects/part-*.jsonl`: every dropped document, paragraph and sentence with
     its reason and a snippet.

Per document: strip markup, normalise (NFC by default, see README), split
sentences (`pipeline.sentences`), filter sentences (length, Hangul share,
repeated-character junk). Across documents: exact dedup of whole documents and
of paragraphs repeated in other documents; the smallest doc_id keeps the text.
Accounting: documents_in = documents_written + rejected_documents.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

from pipeline import beam_io, ingest
from pipeline.config import CleanConfig
from pipeline.runner import Stage, StageContext
from pipeline.sentences import SPLITTER_VERSION, split_sentences

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


def normalize_text(text: str, form: str = "NFC", fold_fullwidth: bool = True) -> str:
    """Markup-free text -> one normalised line. Never lower-cases, never strips accents."""
    text = unicodedata.normalize(form, text)
    if fold_fullwidth:
        text = text.translate(_FULLWIDTH)
    if _NEEDS_CONTROL_PASS.search(text):
        text = _drop_control(text)
    return _WHITESPACE.sub(" ", text).strip()


# ------------------------------------------------------------------ filters

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def hangul_ratio(sentence: str) -> float:
    """Share of Hangul syllables among non-space characters."""
    total = len(sentence) - sentence.count(" ")
    return len(_HANGUL.findall(sentence)) / total if total else 0.0


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
    if re.search(rf"(.)\1{{{config.max_char_run}}}", sentence):
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


def sentence_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("doc_id", pa.string()),
            ("cpc_section", pa.string()),
            ("paragraph_index", pa.int32()),
            ("section", pa.string()),
            ("sentence_index", pa.int32()),
            ("text", pa.string()),
        ]
    )


# ------------------------------------------------------------------ Beam steps


def read_documents(readable_file):
    """One ingest Parquet shard -> documents (rows of one doc_id are adjacent)."""
    import pyarrow.parquet as pq

    with readable_file.open() as f:
        parquet = pq.ParquetFile(f)
        current = None
        for batch in parquet.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                if current is None or row["doc_id"] != current["doc_id"]:
                    if current is not None:
                        yield current
                    current = {"doc_id": row["doc_id"], "cpc_section": row["cpc_section"], "paragraphs": []}
                current["paragraphs"].append(
                    {
                        "paragraph_index": row["paragraph_index"],
                        "section": row["section"],
                        "text": row["text"],
                    }
                )
        if current is not None:
            yield current


class CleanDocument(beam.DoFn):
    """Document -> cleaned document (main) or reject/drop records ('rejects')."""

    def __init__(self, config: CleanConfig) -> None:
        self._config = config
        self._docs_in = Metrics.counter(NAME, "documents_in")
        self._paragraphs_in = Metrics.counter(NAME, "paragraphs_in")

    def process(self, doc):
        self._docs_in.inc()
        self._paragraphs_in.inc(len(doc["paragraphs"]))
        cleaned, drops = clean_document(doc, self._config)
        for record in drops:
            Metrics.counter(NAME, f"{record['kind']}s_dropped_{record['reason']}").inc()
            yield beam.pvalue.TaggedOutput("rejects", record)
        if cleaned["paragraphs"]:
            yield cleaned
        else:
            yield beam.pvalue.TaggedOutput(
                "rejects", reject_document(doc["doc_id"], "no_text_after_cleaning", "")
            )


def reject_document(doc_id: str, reason: str, detail: str, snippet: str = "") -> dict:
    Metrics.counter(NAME, "rejected_documents").inc()
    Metrics.counter(NAME, f"rejected_documents_{reason}").inc()
    return {
        "stage": NAME,
        "kind": "document",
        "doc_id": doc_id,
        "paragraph_index": -1,
        "sentence_index": -1,
        "reason": reason,
        "detail": detail,
        "snippet": snippet,
    }


def document_key(cleaned: dict):
    return document_hash(cleaned), cleaned["doc_id"]


def paragraph_keys(cleaned: dict, min_chars: int):
    for p in cleaned["paragraphs"]:
        text = paragraph_text(p)
        if len(text) >= min_chars:
            yield text_hash(text), (cleaned["doc_id"], p["paragraph_index"])


def duplicate_documents(element):
    """(hash, [doc_id...]) -> (loser doc_id, winner doc_id) for all but the smallest id."""
    _, doc_ids = element
    ordered = sorted(doc_ids)
    for doc_id in ordered[1:]:
        yield doc_id, ordered[0]


def duplicate_paragraphs(element):
    """(hash, [(doc_id, index)...]) -> (loser doc_id, (index, winner doc_id))."""
    _, places = element
    ordered = sorted(places)
    winner = ordered[0]
    for doc_id, index in ordered[1:]:
        yield doc_id, (index, f"{winner[0]}#{winner[1]}")


class ApplyDedup(beam.DoFn):
    """Joined (doc_id, {doc, dup_of, dup_paragraphs}) -> kept document or rejects."""

    def __init__(self, config: CleanConfig) -> None:
        self._config = config

    def process(self, element):
        doc_id, joined = element
        docs = list(joined["doc"])
        if not docs:  # markers for a document rejected earlier
            return
        cleaned = docs[0]
        dup_of = list(joined["dup_of"])
        if dup_of:
            snippet = paragraph_text(cleaned["paragraphs"][0])[: self._config.snippet_chars]
            yield beam.pvalue.TaggedOutput(
                "rejects", reject_document(doc_id, "duplicate_document", f"same text as {dup_of[0]}", snippet)
            )
            return
        dup_paragraphs = dict(joined["dup_paragraphs"])
        if dup_paragraphs:
            kept = []
            for p in cleaned["paragraphs"]:
                if p["paragraph_index"] in dup_paragraphs:
                    Metrics.counter(NAME, "paragraphs_dropped_duplicate_paragraph").inc()
                    record = _drop(
                        "paragraph",
                        doc_id,
                        "duplicate_paragraph",
                        paragraph_text(p),
                        self._config,
                        paragraph_index=p["paragraph_index"],
                        detail=f"same text as {dup_paragraphs[p['paragraph_index']]}",
                    )
                    yield beam.pvalue.TaggedOutput("rejects", record)
                else:
                    kept.append(p)
            if not kept:
                yield beam.pvalue.TaggedOutput(
                    "rejects", reject_document(doc_id, "all_paragraphs_duplicate", "")
                )
                return
            cleaned = {**cleaned, "paragraphs": kept}
        yield cleaned


def keyed_document(cleaned: dict):
    return cleaned["doc_id"], cleaned["doc_id"], cleaned


def keyed_drop(record: dict):
    where = (
        record["doc_id"],
        record["kind"],
        record["paragraph_index"],
        record["sentence_index"],
        record["reason"],
    )
    return record["doc_id"], where, record


def by_doc_id(cleaned: dict):
    return cleaned["doc_id"], cleaned


class TextShardWriter:
    """Writes one shard's BERT-layout text file and its sentence Parquet table."""

    def __init__(self, output_dir: str, blank_line_between: str) -> None:
        self._output_dir, self._blank_line_between = output_dir, blank_line_between

    def __call__(self, folder: str, index: int, num_shards: int, docs: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        text_path = beam_io.shard_path(
            beam_io.join(self._output_dir, "text"), "part", index, num_shards, ".txt"
        )
        rows = []
        with beam_io.FileSystems.create(text_path) as f:
            for cleaned in docs:
                f.write(format_document(cleaned, self._blank_line_between).encode("utf-8"))
                rows.extend(sentence_rows(cleaned))
        Metrics.counter(NAME, "documents_written").inc(len(docs))
        Metrics.counter(NAME, "paragraphs_written").inc(sum(len(d["paragraphs"]) for d in docs))
        Metrics.counter(NAME, "sentences_written").inc(len(rows))
        Metrics.counter(NAME, "chars_written").inc(sum(len(r["text"]) for r in rows))
        table_path = beam_io.shard_path(
            beam_io.join(self._output_dir, "sentences"), "part", index, num_shards, ".parquet"
        )
        with beam_io.FileSystems.create(table_path) as f:
            pq.write_table(pa.Table.from_pylist(rows, schema=sentence_schema()), f, compression="zstd")


class CleanDocuments(beam.PTransform):
    """Ingest paragraph shards -> BERT text shards, sentence tables and rejects."""

    def __init__(self, paragraphs_glob: str, config: CleanConfig, output_dir: str) -> None:
        super().__init__()
        self._glob, self._config, self._output_dir = paragraphs_glob, config, output_dir

    def expand(self, pipeline):
        config = self._config
        cleaned = (
            pipeline
            | "Match" >> fileio.MatchFiles(self._glob)
            | "Read" >> fileio.ReadMatches()
            | "ReadDocuments" >> beam.FlatMap(read_documents)
            | "Progress" >> beam.ParDo(beam_io.ReportProgress(NAME, "documents"))
            | "Clean" >> beam.ParDo(CleanDocument(config)).with_outputs("rejects", main="docs")
        )
        docs = cleaned.docs
        empty = pipeline | "NoMarkers" >> beam.Create([])
        dup_of = empty
        if config.dedup_documents:
            dup_of = (
                docs
                | "DocumentHash" >> beam.Map(document_key)
                | "GroupDocuments" >> beam.GroupByKey()
                | "DuplicateDocuments" >> beam.FlatMap(duplicate_documents)
            )
        dup_paragraphs = pipeline | "NoParagraphMarkers" >> beam.Create([])
        if config.dedup_paragraphs:
            dup_paragraphs = (
                docs
                | "ParagraphHashes" >> beam.FlatMap(paragraph_keys, config.min_dedup_paragraph_chars)
                | "GroupParagraphs" >> beam.GroupByKey()
                | "DuplicateParagraphs" >> beam.FlatMap(duplicate_paragraphs)
            )
        deduped = (
            {
                "doc": docs | "KeyDocs" >> beam.Map(by_doc_id),
                "dup_of": dup_of,
                "dup_paragraphs": dup_paragraphs,
            }
            | "JoinMarkers" >> beam.CoGroupByKey()
            | "Dedup" >> beam.ParDo(ApplyDedup(config)).with_outputs("rejects", main="docs")
        )
        _ = (
            deduped.docs
            | "KeyForShards" >> beam.Map(keyed_document)
            | "WriteText"
            >> beam_io.WriteSortedShards(
                self._output_dir,
                config.num_shards,
                TextShardWriter(self._output_dir, config.blank_line_between),
            )
        )
        return (
            (cleaned.rejects, deduped.rejects)
            | "AllRejects" >> beam.Flatten()
            | "KeyRejects" >> beam.Map(keyed_drop)
            | "WriteRejects"
            >> beam_io.WriteSortedShards(
                beam_io.join(self._output_dir, "rejects"), config.num_shards, beam_io.write_jsonl_shard
            )
        )


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    glob = beam_io.join(ctx.upstream_dirs[ingest.NAME], ingest.PARAGRAPHS, "part-*.parquet")
    _ = p | "Clean" >> CleanDocuments(glob, ctx.config.clean, ctx.output_dir)


STAGE = Stage(
    name=NAME,
    upstream=(ingest.NAME,),
    versions={
        "splitter": SPLITTER_VERSION,
        "normalizer": NORMALIZER_VERSION,
        "filters": FILTERS_VERSION,
    },
    build=build,
    description="paragraphs -> normalised, split, filtered, deduplicated BERT text",
    accounting=("documents_in", "documents_written", "rejected_documents", "sentences_written"),
)
