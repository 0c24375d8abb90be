"""Near-duplicate detection: quality against the threshold, and signature speed.

Quality: the generated set of pipeline/tools/near_duplicate_cases.py (the demo
publications with their section's boilerplate, seven variants each: word edits
at 5-20%, reordered paragraphs, claims added or removed), scored by
pipeline/text/near_duplicates.py for each shingle size and threshold: recall on
all positive pairs and on those at true Jaccard >= 0.8, precision, and the
false-positive rate on all negative pairs and on the hard ones (same CPC section).

Speed: MinHash signatures of the cases' text (UTF-8 bytes of the paragraphs),
per paragraph and whole text as the library computes them, in MB/s of CPU time
on one core (process_time, so other load on the machine does not count),
against datasketch's MinHash (update_batch over the same word n-grams, whole text
only). Also the demo's re-publication and divisional, as the library finds them.

    .venv/bin/python benchmarks/bench_near_duplicates.py [--seed 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from pipeline.text import near_duplicates
from pipeline.text.near_duplicates import (
    MinHasher,
    NearDuplicateParams,
    find_near_duplicates,
    publication_signature,
    words,
)
from pipeline.tools.near_duplicate_cases import make_cases, score, signatures_of

DEMO_FAMILY = {"KR1020240010002B1": "re-publication", "KR1020240015003": "divisional"}


def signature_speed(cases, params: NearDuplicateParams, repeat: int) -> dict:
    texts = [list(c.paragraphs) for c in cases]
    megabytes = sum(len(p.encode("utf-8")) for t in texts for p in t) / 1e6
    hasher = MinHasher(params.num_perm, params.seed)
    best = float("inf")
    for _ in range(repeat):
        near_duplicates._WORD_HASHES.clear()  # a cold word-hash memo each round
        started = time.process_time()
        for i, paragraphs in enumerate(texts):
            publication_signature(str(i), paragraphs, hasher, params)
        best = min(best, time.process_time() - started)
    out = {"megabytes": round(megabytes, 2), "numpy_mb_per_s": round(megabytes / best, 2)}
    try:
        from datasketch import MinHash
    except ImportError:
        return out
    n = params.shingle_size
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for paragraphs in texts:
            m = MinHash(num_perm=params.num_perm, seed=params.seed)
            for p in paragraphs:
                w = words(p)
                m.update_batch(
                    [" ".join(w[k : k + n]).encode("utf-8") for k in range(max(1, len(w) - n + 1))]
                )
        best = min(best, time.process_time() - started)
    out["datasketch_mb_per_s"] = round(megabytes / best, 2)
    return out


# KorPatBERT's corpus: 4.07M publications.
PUBLICATIONS = 4_070_000


def projection(cases, params: NearDuplicateParams, speed: dict) -> dict:
    """Signature CPU time and the grouped band keys for PUBLICATIONS of the demo's mean size.

    A band key is 10 bytes (band index + 8-byte digest) plus the instance it groups
    (doc id, source, shard: ~40 bytes pickled): `bands` per publication and
    `paragraph_bands` per paragraph of at least min_paragraph_shingles shingles
    (v1 keyed every paragraph with all `bands`: shown for comparison).
    """
    originals = [c for c in cases if c.kind == "original"]
    mean_bytes = sum(len(p.encode("utf-8")) for c in originals for p in c.paragraphs) / len(originals)
    signatures = signatures_of(originals, params)
    keyed = sum(
        sum(s.shingles >= params.min_paragraph_shingles for s in p.paragraphs) for p in signatures.values()
    ) / len(originals)
    keys = PUBLICATIONS * (params.bands + params.paragraph_bands * keyed)
    return {
        "publications": PUBLICATIONS,
        "mean_publication_kb": round(mean_bytes / 1e3, 1),
        "signature_vcpu_hours": round(PUBLICATIONS * mean_bytes / 1e6 / speed["numpy_mb_per_s"] / 3600, 1),
        "keyed_paragraphs_per_publication": round(keyed, 1),
        "band_keys_per_publication": round(params.bands + params.paragraph_bands * keyed, 1),
        "band_keys": int(keys),
        "grouped_keys_gb": round(keys * (10 + 40) / 1e9, 1),
        "v1_band_keys_all_bands_per_paragraph": int(PUBLICATIONS * params.bands * (1 + keyed)),
    }


def demo_family(params: NearDuplicateParams) -> list[dict]:
    """The demo corpus's family members (data/demo/corpus/jsonl) among the source publications."""
    from pipeline.tools.near_duplicate_cases import SOURCE, load_publications, paragraphs_of

    publications = {p["id"]: list(paragraphs_of(p)) for p in load_publications(SOURCE)}
    corpus = SOURCE.parent / "corpus" / "jsonl"
    for p in load_publications(corpus):
        publications.setdefault(p["id"], list(paragraphs_of(p)))
    return [dataclasses.asdict(d) for d in find_near_duplicates(publications, params)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cases = make_cases(args.seed)
    default = NearDuplicateParams()
    print(f"{len(cases)} cases; defaults {dataclasses.asdict(default)}")
    print("shingle threshold  recall  recall@J>=0.8  precision  fp_rate  hard_fp_rate")
    for shingle_size in (3, 5):
        signatures = signatures_of(cases, dataclasses.replace(default, shingle_size=shingle_size))
        for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
            params = dataclasses.replace(default, shingle_size=shingle_size, threshold=threshold)
            s = score(cases, params, signatures)
            print(
                f"{shingle_size:>7} {threshold:>9} {s['recall']:>7} {s['recall_jaccard_0.8']:>14} "
                f"{s['precision']:>10} {s['false_positive_rate']:>8} {s['hard_false_positive_rate']:>13}"
            )
    print("paragraph_bands (defaults otherwise)  recall  recall@J>=0.8  fp_rate  keys/publication")
    signatures = signatures_of(cases, default)
    for paragraph_bands in (1, 2, 4, 20):
        params = dataclasses.replace(default, paragraph_bands=paragraph_bands)
        s = score(cases, params, signatures)
        keyed = sum(
            sum(x.shingles >= params.min_paragraph_shingles for x in signatures[c.doc_id].paragraphs)
            for c in cases
            if c.kind == "original"
        ) / sum(c.kind == "original" for c in cases)
        print(
            f"{paragraph_bands:>36} {s['recall']:>7} {s['recall_jaccard_0.8']:>14} "
            f"{s['false_positive_rate']:>8} {params.bands + paragraph_bands * keyed:>17.1f}"
        )
    print("containment_threshold (threshold 0.7, shingle 5)  recall  precision  fp_rate  hard_fp_rate")
    signatures = signatures_of(cases, default)
    for containment in (0.1, 0.2, 0.3, 0.4, 0.5):
        s = score(cases, dataclasses.replace(default, containment_threshold=containment), signatures)
        print(
            f"{containment:>47} {s['recall']:>7} {s['precision']:>10} {s['false_positive_rate']:>8} "
            f"{s['hard_false_positive_rate']:>13}"
        )
    result = score(cases, default, signatures)
    print("defaults:", json.dumps(result, indent=1))
    speed = signature_speed(cases, default, args.repeat)
    print("speed (one core):", json.dumps(speed))
    print("projection:", json.dumps(projection(cases, default, speed)))
    print("demo family:", json.dumps(demo_family(default), ensure_ascii=False))


if __name__ == "__main__":
    main()
