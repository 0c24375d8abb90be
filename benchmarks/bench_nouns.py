"""Stage `nouns`: counting throughput (MB/s per core) and the central step's memory.

    .venv/bin/python benchmarks/bench_nouns.py count [--docs 5000] [--workers 0] [--keep DIR]
    .venv/bin/python benchmarks/bench_nouns.py memory [--sizes 50000,100000,200000,400000]

`count` generates a synthetic corpus (`python -m pipeline generate-corpus`),
runs ingest and clean on it with the CLI, then times (a) the Beam counting
alone (`CountEojeols` over clean's text shards, what scales with the corpus) and (b) the
whole `nouns` stage through the CLI; throughput is clean-text MB per second
per worker.

`memory` writes `eojeol count` files with N distinct synthetic eojeols (nouns
with particles and endings, Zipf-like counts) and scores each in a fresh
process with `nouns.extract_nouns`, printing the memory the central soynlp
step grew by, per eojeol kept, and its time. Not a test: run on demand and
record the figures in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from synthetic_setup import REPO, prepare


def _cli(config: str, *args: str) -> None:
    cmd = [sys.executable, "-m", "pipeline", "--config", config, *args]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stderr[-3000:]}")


def count_only(text_glob: str, workers: int, mode: str) -> float:
    """Seconds for CountEojeols over the clean text shards (prints the eojeols kept)."""
    import apache_beam as beam
    from apache_beam.io import fileio
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.stages import nouns

    options = PipelineOptions(
        ["--runner=DirectRunner", f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
    )
    started = time.time()
    p = beam.Pipeline(options=options)
    _ = (
        p
        | fileio.MatchFiles(text_glob)
        | beam.Map(nouns.metadata_path)
        | beam.Reshuffle()
        | nouns.CountEojeols(max_length=19, min_count=2)
        | beam.combiners.Count.Globally()
        | beam.Map(print)
    )
    p.run().wait_until_finish()
    return time.time() - started


def bench_count(args) -> None:
    cores = args.workers or os.cpu_count()
    work = args.keep or tempfile.mkdtemp(prefix="bench_nouns_")
    _, _, config = prepare(work, args.docs)
    if not os.path.exists(os.path.join(work, "out", "clean", "manifest.json")):
        _cli(config, "run", "--to", "clean")
    text_dir = os.path.join(work, "out", "clean", "text")
    text_bytes = sum(os.path.getsize(os.path.join(text_dir, n)) for n in os.listdir(text_dir))
    mb = text_bytes / 1e6
    print(f"corpus: {args.docs:,} publications, {mb:.1f} MB clean text, {cores} worker(s), {args.mode}")

    seconds = count_only(os.path.join(text_dir, "part-*.txt"), args.workers, args.mode)
    print(
        f"counting (CountEojeols over the text shards): {seconds:.1f} s, {mb / seconds / cores:.2f} MB/s per core"
    )

    started = time.time()
    _cli(
        config,
        "run",
        "--stages",
        "nouns",
        "--force",
        "--",
        f"--direct_running_mode={args.mode}",
        f"--direct_num_workers={args.workers}",
    )
    seconds = time.time() - started
    with open(os.path.join(work, "out", "nouns", "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    report = manifest["report"]
    print(
        f"nouns stage (CLI, all steps): {seconds:.1f} s, {mb / seconds / cores:.2f} MB/s per core; "
        f"eojeols kept {report['eojeols_kept']:,}, central step {report['scoring_seconds']} s "
        f"and {report['scoring_memory_mb']} MB, nouns written {manifest['counters']['nouns_written']:,}"
    )


# ------------------------------------------------------------------ memory

JOSA = ["", "은", "는", "이", "가", "을", "를", "에", "의", "로", "으로", "에서", "와", "과", "도", "에는"]
ENDINGS = ["하는", "한다", "하여", "된", "되는", "하고", "할", "시킨"]


def _syllables(rng: random.Random, n: int) -> str:
    return "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(n))


def synthetic_counts(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """n distinct eojeols: random nouns with particles or predicate endings, Zipf-like counts."""
    rng = random.Random(seed)
    eojeols: dict[str, int] = {}
    while len(eojeols) < n:
        stem = _syllables(rng, rng.choice((2, 2, 3, 3, 4, 5)))
        suffixes = rng.sample(JOSA, rng.randint(1, 6))
        if rng.random() < 0.3:
            suffixes += rng.sample(ENDINGS, rng.randint(1, 3))
        rank = len(eojeols) + 1
        for suffix in suffixes:
            eojeols.setdefault(stem + suffix, max(2, int(200000 / rank**0.8)))
    return sorted(eojeols.items())[:n]


MEASURE = """
import json, time
from pipeline.config import NounsConfig
from pipeline.io.memory import PeakMemory
from pipeline.text.noun_extraction import extract_nouns
with PeakMemory() as memory:
    started = time.time()
    found = extract_nouns({path!r}, NounsConfig())
    seconds = time.time() - started
print(json.dumps({{"grown": memory.grown_bytes, "seconds": seconds, "nouns": len(found)}}))
"""


def bench_memory(args) -> None:
    work = tempfile.mkdtemp(prefix="bench_nouns_memory_")
    print(f"{'eojeols':>9} {'nouns':>8} {'memory MB':>10} {'bytes/eojeol':>13} {'seconds':>8}")
    for n in [int(s) for s in args.sizes.split(",")]:
        path = os.path.join(work, f"counts_{n}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(f"{e} {c}\n" for e, c in synthetic_counts(n))
        # Import soynlp first so its own footprint is not counted as scoring memory.
        code = "import soynlp.noun, soynlp.utils\n" + MEASURE.format(path=path)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{n:>9,} {r['nouns']:>8,} {r['grown'] / 2**20:>10.0f} {r['grown'] / n:>13,.0f} {r['seconds']:>8.1f}"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    count = sub.add_parser("count", help="counting throughput on a synthetic corpus")
    count.add_argument("--docs", type=int, default=5000)
    count.add_argument("--workers", type=int, default=0, help="DirectRunner workers; 0 = all cores")
    count.add_argument("--mode", default="multi_processing")
    count.add_argument("--keep", help="keep corpus and output in this folder (reused when present)")
    memory = sub.add_parser("memory", help="central step memory against distinct eojeols kept")
    memory.add_argument("--sizes", default="50000,100000,200000,400000")
    args = parser.parse_args(argv)
    if args.command == "count":
        bench_count(args)
    else:
        bench_memory(args)


if __name__ == "__main__":
    main()
