"""Throughput benchmark for pipeline.text.sentences.split_sentences.

Usage: python benchmarks/bench_splitter.py [--mb N] [--seed S]

Builds a deterministic text of about N MB (UTF-8 bytes, default 20) by
shuffling, with a fixed seed, paragraphs taken from
data/demo/source/*.jsonl ('abstract', 'claims', 'description' fields) when
present, else from the gold set tests/data/sentence_gold.txt, else from a few
built-in patent paragraphs (the gold paragraphs are also timed on their own
when both exist). It then times split_sentences over all of it with
time.process_time (CPU time of this process, i.e. one core) and prints MB/s
per core, followed by boundary precision/recall/F1 on the gold set.
"""

from __future__ import annotations

import argparse
import glob
import json
import pathlib
import random
import re
import time
import unicodedata

from pipeline.text.sentences import (
    SPLITTER_VERSION,
    evaluate_boundaries,
    load_gold,
    split_sentences,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent

GOLD_PATH = ROOT / "tests" / "data" / "sentence_gold.txt"
DEMO_GLOB = str(ROOT / "data" / "demo" / "source" / "*.jsonl")

_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]{0,200}>")

FALLBACK = [
    "도 1은 본 발명의 일 실시예에 따른 장치를 나타낸 도면이다. 도 2는 도 1의 단면도이다.",
    "상기 하우징(10)은 커버(20)와 결합된다. 상기 커버(20)는 투명한 재질로 형성될 수 있다.",
    (
        "양극 활물질로 LiNi0.8Co0.1Mn0.1O2를 사용하였고, 용매로 N,N-dimethylformamide를 "
        "사용하였다. 두께는 10 mm. 폭은 5.5 mm이다."
    ),
    ("(a) 원료를 준비하는 단계; (b) 상기 원료를 혼합하는 단계; 및 (c) 건조하는 단계를 포함하는 방법."),
    (
        "본 출원은 2024. 3. 15. 출원된 특허를 기초로 한다. This is shown in Fig. 1 (e.g., "
        "U.S. Pat. No. 5,123,456). 1) 원료를 준비한다. 2) 혼합한다."
    ),
]


def _normalise(text: str) -> str:
    # Same shape as the pipeline's input: NFC, no markup, single spaces.
    text = unicodedata.normalize("NFC", _TAG.sub(" ", text))
    return _WS.sub(" ", text).strip()


def _field_paragraphs(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p for p in value.split("\n") if p.strip()]
    if isinstance(value, dict):
        out: list[str] = []
        for v in value.values():
            out.extend(_field_paragraphs(v))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            out.extend(_field_paragraphs(v))
        return out
    return []


def demo_paragraphs() -> list[str]:
    paras: list[str] = []
    for path in sorted(glob.glob(DEMO_GLOB)):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(rec, dict):
                    continue
                for field in ("abstract", "claims", "description"):
                    for p in _field_paragraphs(rec.get(field)):
                        p = _normalise(p)
                        if p:
                            paras.append(p)
    return paras


def gold_paragraphs() -> list[str]:
    if not GOLD_PATH.exists():
        return []
    return [" ".join(case) for case in load_gold(GOLD_PATH)]


def repeat_shuffled(paras: list[str], target_bytes: int, seed: int) -> list[str]:
    """Seeded shuffles of `paras`, concatenated until `target_bytes`."""
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < target_bytes:
        batch = paras[:]
        rng.shuffle(batch)
        for p in batch:
            out.append(p)
            size += len(p.encode("utf-8"))
            if size >= target_bytes:
                break
    return out


def time_split(paras: list[str]) -> tuple[float, float, int]:
    """(MB of UTF-8 input, CPU seconds, sentences) for splitting `paras`."""
    nbytes = sum(len(p.encode("utf-8")) for p in paras)
    split = split_sentences
    n_sent = 0
    t0 = time.process_time()
    for p in paras:
        n_sent += len(split(p))
    cpu = time.process_time() - t0
    return nbytes / 1e6, cpu, n_sent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20.0, help="MB of UTF-8 text to split")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)

    target = int(args.mb * 1e6)
    corpora = []
    demo = demo_paragraphs()
    if demo:
        corpora.append(("demo jsonl", demo))
    gold = gold_paragraphs()
    if gold:
        corpora.append(("gold paragraphs", gold))
    if not corpora:
        corpora.append(("built-in paragraphs", list(FALLBACK)))

    # The first corpus gives the headline number; the others are printed
    # with their name so that runs on different inputs are not confused.
    for i, (origin, base) in enumerate(corpora):
        paras = repeat_shuffled(base, target, args.seed)
        mb, cpu, n_sent = time_split(paras)
        label = SPLITTER_VERSION if i == 0 else f"{SPLITTER_VERSION} [{origin}]"
        print(f"corpus: {len(paras)} paragraphs ({len(base)} distinct) from {origin}, {n_sent} sentences")
        print(f"splitter {label}: {mb / cpu:.1f} MB/s per core ({mb:.1f} MB, {cpu:.2f} s CPU)")

    for gold in (GOLD_PATH, GOLD_PATH.with_name("sentence_gold_holdout.txt")):
        r = evaluate_boundaries(load_gold(gold))
        print(
            f"gold {gold.name}: precision {r['precision']:.4f} recall {r['recall']:.4f} "
            f"F1 {r['f1']:.4f} (tp {r['tp']}, fp {r['fp']}, fn {r['fn']}, "
            f"gold boundaries {r['gold_boundaries']}, cases {r['cases']})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
