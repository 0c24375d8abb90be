"""Exact dedup across documents: content keys and the decisions made on grouped keys.

In:  cleaned documents (`pipeline.text.cleaning`) -> keys: `document_hash`,
     `text_hash(paragraph_text(p))`; then one key's instances, as a grouping
     gives them.
Out: markers `(shard index, (reason, source, paragraph_index, detail))` for
     every instance but the one that keeps the text (the smallest doc_id, then
     source); `index_markers` turns one shard's markers into lookups.

A document instance is identified by its ingest `source`, unique even when two
instances share a doc_id. Where the keys travel and are grouped is the
stage's business (`pipeline.stages.clean`).
"""

from __future__ import annotations

import hashlib


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def document_hash(cleaned: dict) -> str:
    return text_hash("\n\n".join("\n".join(p["sentences"]) for p in cleaned["paragraphs"]))


def paragraph_text(paragraph: dict) -> str:
    return " ".join(paragraph["sentences"])


def duplicate_ids(element):
    """(doc_id, [(source, index)...]) -> a marker for every instance but the first source."""
    _, instances = element
    ordered = sorted(instances)
    for source, index in ordered[1:]:
        yield index, ("duplicate_doc_id", source, -1, f"same id as {ordered[0][0]}")


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
