"""Throughput and peak memory of `ingest` + `clean` on a synthetic corpus.

    .venv/bin/python benchmarks/bench_ingest_clean.py [--docs 10000] [--workers 0] [--mode multi_processing]

Generates a deterministic corpus (`python -m pipeline generate-corpus`, half
KIPO XML, half JSONL), runs `python -m pipeline run` on it exactly as a user
would, samples the memory of the whole process tree every 0.2 s, and prints per
stage: wall time, input MB/s per core, and peak RSS (largest single process and
the sum over the tree). Not a test: run it on demand and record the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

from synthetic_setup import prepare, timed_cli

from pipeline.io.memory import PeakMemory


def run_stage(config: str, stage: str, extra: list[str]) -> tuple[float, PeakMemory]:
    # `stage` (always runs, no run report afterwards): the stage's own time, start-up included.
    return timed_cli(["stage", stage, "--config", config, "--", *extra], stage)  # Beam flags after --


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=0, help="DirectRunner workers; 0 = all cores")
    parser.add_argument("--mode", default="multi_processing")
    parser.add_argument("--keep", help="keep corpus and output in this folder")
    args = parser.parse_args(argv)
    cores = args.workers or os.cpu_count()

    work = args.keep or tempfile.mkdtemp(prefix="bench_ingest_clean_")
    _, input_bytes, config = prepare(work, args.docs)
    extra = [f"--direct_running_mode={args.mode}", f"--direct_num_workers={args.workers}"]

    print(
        f"corpus: {args.docs:,} publications, {input_bytes / 1e6:.1f} MB raw input, {cores} core(s), {args.mode}"
    )
    total = 0.0
    for stage in ("ingest", "clean"):
        seconds, memory = run_stage(config, stage, extra)
        total += seconds
        with open(os.path.join(work, "out", stage, "manifest.json"), encoding="utf-8") as f:
            counters = json.load(f)["counters"]
        print(
            f"{stage:<7} {seconds:7.1f} s wall  {input_bytes / 1e6 / seconds / cores:6.2f} MB/s per core  "
            f"peak RSS {memory.peak_rss / 2**20:6.0f} MiB largest process, "
            f"{memory.peak_total / 2**20:6.0f} MiB all processes"
        )
        if stage == "clean":
            print(
                f"        documents in {counters['documents_in']:,}, written {counters['documents_written']:,}, "
                f"sentences {counters['sentences_written']:,}, text {counters['chars_written'] / 1e6:.1f} M chars"
            )
    print(
        f"ingest+clean {total:.1f} s wall  {input_bytes / 1e6 / total / cores:.2f} MB/s per core (raw input bytes)"
    )


if __name__ == "__main__":
    main()
