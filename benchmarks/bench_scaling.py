"""Scaling of the Beam stages with corpus size, and a projection to KorPatBERT's corpus.

    .venv/bin/python benchmarks/bench_scaling.py [--sizes 1000,10000] [--stages ingest,clean,nouns,dictionary,morph]

For each size, generates a deterministic synthetic corpus (`python -m pipeline
generate-corpus`), runs each stage through the real CLI with DirectRunner
`multi_processing` on all cores, and records wall time, MB/s per core (raw
input bytes) and the peak RSS of the largest process. Then prints the ratio of
per-document cost and of peak memory between the largest and the smallest size
(targets: per-document cost within 10% of linear, memory < 1.5x for 10x the
documents), and projects the 4,065,519-publication run from the largest size's
marginal CPU cost per document: vCPU-hours per stage and wall time at
64/256/1024 vCPUs (ideal scaling plus a fixed start-up per job).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

# Siblings: Python puts this script's folder first on sys.path.
from bench_ingest_clean import run_stage
from synthetic_setup import prepare

KORPAT_PUBLICATIONS = 4_065_519
JOB_STARTUP_S = 240  # Dataflow worker pool start-up per job, a typical figure


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--stages", default="ingest,clean,nouns,dictionary,morph")
    parser.add_argument("--keep", help="work folder to keep (and reuse corpora)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    stages = args.stages.split(",")
    cores = os.cpu_count()
    work = args.keep or tempfile.mkdtemp(prefix="bench_scaling_")
    results: dict[int, dict[str, dict]] = {}
    for docs in sizes:
        _, input_bytes, config = prepare(work, docs, suffix=f"_{docs}")
        results[docs] = {}
        for stage in stages:
            seconds, memory = run_stage(config, stage, [])
            results[docs][stage] = {
                "seconds": seconds,
                "mb_per_core": input_bytes / 1e6 / seconds / cores,
                "peak_mib": memory.peak_rss / 2**20,
            }
            print(
                f"{docs:>7,} docs  {stage:<10} {seconds:7.1f} s  "
                f"{input_bytes / 1e6 / seconds / cores:6.2f} MB/s per core  "
                f"peak {memory.peak_rss / 2**20:6.0f} MiB",
                flush=True,
            )
    small, large = min(sizes), max(sizes)
    print(f"\nscaling {small:,} -> {large:,} documents ({large / small:.0f}x); per-document cost includes")
    print("each job's fixed start-up (~5 s here), which flatters the larger size:")
    print(f"{'stage':<10} {'per-doc cost ratio':>19} {'peak memory ratio':>18}")
    for stage in stages:
        per_doc = (results[large][stage]["seconds"] / large) / (results[small][stage]["seconds"] / small)
        memory = results[large][stage]["peak_mib"] / results[small][stage]["peak_mib"]
        print(f"{stage:<10} {per_doc:19.2f} {memory:18.2f}")

    print(f"\nprojection to {KORPAT_PUBLICATIONS:,} publications:")
    print("(marginal CPU cost per document between the two largest sizes, so fixed start-up is excluded)")
    print(f"{'stage':<10} {'vCPU-hours':>10} {'64 vCPU':>9} {'256 vCPU':>9} {'1024 vCPU':>10}")
    total_hours = 0.0
    second = sorted(sizes)[-2]
    for stage in stages:
        extra_s = results[large][stage]["seconds"] - results[second][stage]["seconds"]
        cpu_s_per_doc = max(extra_s, 0.0) * cores / (large - second)
        vcpu_hours = cpu_s_per_doc * KORPAT_PUBLICATIONS / 3600
        total_hours += vcpu_hours
        walls = [(vcpu_hours * 3600 / n + JOB_STARTUP_S) / 3600 for n in (64, 256, 1024)]
        print(f"{stage:<10} {vcpu_hours:10.1f} {walls[0]:8.2f}h {walls[1]:8.2f}h {walls[2]:9.2f}h")
    print(f"{'total':<10} {total_hours:10.1f}")
    print(
        "nouns and dictionary end in a single-worker step (soynlp scoring, the dictionary compile) "
        "that more vCPUs do not shorten; their wall times above are lower bounds."
    )
    with open(os.path.join(work, "scaling.json"), "w", encoding="utf-8") as f:
        json.dump({str(k): v for k, v in results.items()}, f, indent=2)


if __name__ == "__main__":
    main()
