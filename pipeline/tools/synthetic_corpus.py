"""A deterministic patent-style corpus of any size, for benchmarks and scale tests.

Seeded from the demo corpus's own text (`data/demo/source/*.jsonl`): every
synthetic publication copies the section and paragraph structure of a demo
publication and fills each paragraph with sentences drawn from the same section
of all demo publications. Lengths, section mix and sentence style therefore
follow the demo corpus, while paragraphs are new combinations (so dedup does
not collapse the corpus). The same seed and size give byte-identical files.

    python -m pipeline generate-corpus --docs 10000 --out /tmp/corpus [--formats kipo_xml,jsonl]
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator, Sequence

from pipeline.layout import REPO_ROOT
from pipeline.text.sentences import split_sentences
from pipeline.tools.corpus_writers import render_jsonl_line, render_kipo_xml

SOURCE_DIR = os.path.join(REPO_ROOT, "data", "demo", "source")
JSONL_DOCS_PER_FILE = 1000


def load_sources(folder: str = SOURCE_DIR) -> list[dict]:
    records = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".jsonl"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                records.extend(json.loads(line) for line in f if line.strip())
    if not records:
        raise ValueError(f"no source publications in {folder}")
    return sorted(records, key=lambda r: r["id"])


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def sentence_pools(records: Sequence[dict]) -> dict[str, list[str]]:
    """Section name -> every sentence of that section in the sources (claims whole)."""
    pools: dict[str, list[str]] = {"title": [], "claims": [], "abstract": []}
    for r in records:
        pools["title"].append(r["title"])
        pools["claims"].extend(_as_list(r.get("claims")))
        for para in _as_list(r.get("abstract")):
            pools["abstract"].extend(split_sentences(para))
        for section, paragraphs in (r.get("description") or {}).items():
            for para in _as_list(paragraphs):
                pools.setdefault(section, []).extend(split_sentences(para))
    return pools


def _fill(rng: random.Random, template: str, pool: Sequence[str]) -> str:
    count = max(1, len(split_sentences(template)))
    return " ".join(rng.choice(pool) for _ in range(count))


def synthesize(records: Sequence[dict], n: int, seed: int = 0) -> Iterator[dict]:
    """Yield `n` synthetic JSONL-schema publications."""
    pools = sentence_pools(records)
    for i in range(n):
        rng = random.Random(f"{seed}:{i}")
        template = rng.choice(records)
        description = {
            section: [_fill(rng, para, pools[section]) for para in _as_list(paragraphs)]
            for section, paragraphs in (template.get("description") or {}).items()
        }
        yield {
            "id": f"KR10{seed % 100:02d}9{i:08d}",
            "title": rng.choice(pools["title"]),
            "cpc": list(template.get("cpc") or []),
            "ipc": list(template.get("ipc") or []),
            "applicant": "주식회사 합성데이터",
            "abstract": [_fill(rng, p, pools["abstract"]) for p in _as_list(template.get("abstract"))],
            "claims": [rng.choice(pools["claims"]) for _ in _as_list(template.get("claims"))],
            "description": description,
        }


def write_corpus(out_dir: str, n: int, seed: int = 0, formats: Sequence[str] = ("kipo_xml", "jsonl")) -> dict:
    """Write `n` publications, alternating between `formats`; returns counts and bytes."""
    records = load_sources()
    counts = {f: 0 for f in formats}
    total_bytes = 0
    jsonl_file, jsonl_index = None, 0
    for f in formats:
        os.makedirs(os.path.join(out_dir, f), exist_ok=True)
    try:
        for i, record in enumerate(synthesize(records, n, seed)):
            fmt = formats[i % len(formats)]
            counts[fmt] += 1
            if fmt == "kipo_xml":
                data = render_kipo_xml(record)
                with open(os.path.join(out_dir, fmt, f"{record['id']}.xml"), "wb") as out:
                    out.write(data)
            elif fmt == "jsonl":
                if jsonl_file is None or counts[fmt] % JSONL_DOCS_PER_FILE == 1:
                    if jsonl_file:
                        jsonl_file.close()
                    path = os.path.join(out_dir, fmt, f"part-{jsonl_index:05d}.jsonl")
                    jsonl_file, jsonl_index = open(path, "wb"), jsonl_index + 1  # noqa: SIM115
                data = render_jsonl_line(record).encode("utf-8")
                jsonl_file.write(data)
            else:
                raise ValueError(f"generate-corpus writes kipo_xml and jsonl, not {fmt}")
            total_bytes += len(data)
    finally:
        if jsonl_file:
            jsonl_file.close()
    return {"documents": n, "bytes": total_bytes, **{f"documents_{k}": v for k, v in counts.items()}}


def command(config, args, beam_args: Sequence[str]) -> int:
    """`python -m pipeline generate-corpus`."""
    summary = write_corpus(args.out, args.docs, args.seed, tuple(args.formats.split(",")))
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0
