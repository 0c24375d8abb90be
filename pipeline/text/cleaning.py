"""Per-document cleaning: a document from `ingest` -> its kept sentences and drop records.

In:  a document `{"doc_id", "cpc_section", "paragraphs": [{"paragraph_index",
     "section", "text"}]}` and the `clean` config section.
Out: `clean_document` -> (the cleaned document `{"doc_id", "cpc_section",
     "paragraphs": [{"paragraph_index", "section", "sentences"}]}`, drop
     records); `format_document` -> Google BERT's text layout; `sentence_rows`
     -> rows of the sentence table (`layout.sentence_schema()`).

Per paragraph: strip markup, normalise (`pipeline.text.normalize`), split
sentences (`pipeline.text.sentences`), filter sentences (`filters_v1`: length,
Hangul share, repeated-character junk).
"""

from __future__ import annotations

import functools
import re

from pipeline import layout
from pipeline.config import CleanConfig
from pipeline.text.normalize import normalize_text, strip_markup
from pipeline.text.sentences import split_sentences

FILTERS_VERSION = "filters_v1"

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


def drop_record(kind: str, doc_id: str, reason: str, text: str, config: CleanConfig, **where) -> dict:
    """A reject record: what was dropped (kind, where, reason) and a snippet of its text."""
    return {
        "stage": layout.CLEAN,
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
                    drop_record(
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
            drops.append(
                drop_record("paragraph", doc_id, "no_sentences_left", text, config, paragraph_index=index)
            )
    cleaned = {"doc_id": doc_id, "cpc_section": doc.get("cpc_section"), "paragraphs": paragraphs}
    return cleaned, drops


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
