"""ingest to vocab as one Beam job per stage, against one fused job (`runner.jobs`).

    .venv/bin/python benchmarks/bench_jobs.py --docs 10000 [--keep DIR]

Generates a synthetic corpus (`python -m pipeline generate-corpus`), then runs
`python -m pipeline run --to vocab` on it twice with DirectRunner
`multi_processing` on all cores, into two output folders: `--set
runner.jobs=per_stage` and `--set runner.jobs=fused`. Prints each run's wall
time and peak RSS (the largest process), each stage's own seconds from its
manifest, and whether the two runs wrote the same bytes (manifests and the
machine measurements in reports aside).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

from synthetic_setup import prepare, timed_cli

STAGES = ("ingest", "clean", "nouns", "dictionary", "morph", "vocab")


def run(config: str, jobs: str, root: str) -> tuple[float, float]:
    args = [
        "run",
        "--to",
        "vocab",
        "--config",
        config,
        "--set",
        f"runner.jobs={jobs}",
        "--set",
        f"output_root={root}",
    ]
    seconds, memory = timed_cli(args, f"run with jobs={jobs}")
    return seconds, memory.peak_rss / 2**20


def _measured(key: str) -> bool:
    return key.endswith(("seconds", "_mb")) or key == "scoring_bytes_per_eojeol"


def _comparable(value):
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if not _measured(k)}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def tree(folder: str) -> dict[str, object]:
    files = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, folder)
            if rel == "manifest.json":
                continue
            with open(path, "rb") as f:
                data = f.read()
            files[rel] = _comparable(json.loads(data)) if rel.endswith(".json") else data
    return files


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--keep", help="work folder to keep (and reuse the corpus)")
    args = parser.parse_args(argv)
    work = args.keep or tempfile.mkdtemp(prefix="bench_jobs_")
    _, input_bytes, config = prepare(work, args.docs)
    print(f"corpus: {args.docs:,} publications, {input_bytes / 1e6:.1f} MB raw input, {os.cpu_count()} cores")
    results = {}
    for jobs in ("per_stage", "fused"):
        root = os.path.join(work, f"out_{jobs}")
        wall, peak = run(config, jobs, root)
        seconds = {}
        for name in STAGES:
            with open(os.path.join(root, name, "manifest.json"), encoding="utf-8") as f:
                seconds[name] = json.load(f)["seconds"]
        results[jobs] = root
        stages = ", ".join(f"{n} {s:.1f}" for n, s in seconds.items())
        print(f"{jobs:<9}  wall {wall:6.1f} s  peak {peak:6.0f} MiB  manifests' seconds: {stages}")
    same = all(
        tree(os.path.join(results["per_stage"], n)) == tree(os.path.join(results["fused"], n)) for n in STAGES
    )
    print(f"same outputs: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
