#!/usr/bin/env python3
"""Write the demo's labelled sentences for the CPC fine-tune (`python -m pipeline finetune`).

    python scripts/build_cpc_sentences.py [--source data/demo/source] [--out data/demo/cpc_sentences.tsv]

One `label<TAB>sentence` line per sentence, KorPatBERT's lm_test_data.tsv
layout: the label is the CPC section letter (A-H) of the publication's first
CPC code; sentences come from the abstract, claims and description of the
demo source records (written for this project), split with the pipeline's own
splitter, at least 20 characters, each distinct sentence once (a sentence that
appears under two sections is dropped: its label would be a coin toss).
Deterministic: sorted by label, then sentence.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

from pipeline.text.sentences import split_sentences
from pipeline.tools.corpus_writers import load_sources

REPO = Path(__file__).resolve().parents[1]

MIN_CHARS = 20


def paragraphs(record: dict) -> list[str]:
    out = list(record.get("abstract", [])) + list(record.get("claims", []))
    for section in record.get("description", {}).values():
        out += list(section)
    return out


def labelled_sentences(records: list[dict]) -> list[tuple[str, str]]:
    labels: dict[str, set[str]] = defaultdict(set)
    for record in records:
        label = record["cpc"][0].strip()[0]
        for paragraph in paragraphs(record):
            text = " ".join(unicodedata.normalize("NFC", paragraph).split())
            for sentence in split_sentences(text):
                if len(sentence) >= MIN_CHARS:
                    labels[sentence].add(label)
    return sorted((next(iter(ls)), s) for s, ls in labels.items() if len(ls) == 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default=str(REPO / "data" / "demo" / "source"))
    parser.add_argument("--out", default=str(REPO / "data" / "demo" / "cpc_sentences.tsv"))
    args = parser.parse_args()
    rows = labelled_sentences(load_sources(Path(args.source)))
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(f"{label}\t{sentence}\n" for label, sentence in rows)
    counts = defaultdict(int)
    for label, _ in rows:
        counts[label] += 1
    print(f"{len(rows)} sentences -> {args.out}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
