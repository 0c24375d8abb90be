"""Stage `nouns`: counting throughput (MB/s per core), soynlp's scoring by partitions, its memory.

    .venv/bin/python benchmarks/bench_nouns.py count [--docs 5000] [--workers 0] [--keep DIR]
    .venv/bin/python benchmarks/bench_nouns.py memory [--sizes 50000,100000,200000,400000]
    .venv/bin/python benchmarks/bench_nouns.py partitions [--eojeols 400000] [--partitions 64] [--check]

`count` generates a synthetic corpus (`python -m pipeline generate-corpus`),
runs ingest and clean on it with the CLI, then times (a) the Beam counting
alone (`CountEojeols` over clean's text shards, what scales with the corpus) and (b) the
whole `nouns` stage through the CLI; throughput is clean-text MB per second
per worker.

`partitions` writes N distinct synthetic eojeols whose first characters are
spread as the demo corpus's real abstracts spread theirs, splits them into the
stage's scoring partitions and runs soynlp's two passes on each partition in a
fresh process, one at a time, as the stage's tasks would; it prints the
longest task of each pass and the critical path with one worker per
partition. `--check` then scores all eojeols in one process
(`extract_nouns`), back to back, and compares the nouns.

`memory` writes `eojeol count` files with N distinct synthetic eojeols (nouns
with particles and endings, Zipf-like counts) and scores each in a fresh
process with `nouns.extract_nouns`, printing the memory the central soynlp
step grew by, per eojeol kept, and its time. Not a test: run on demand and
record the figures in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import collections
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
        f"eojeols kept {report['eojeols_kept']:,}, soynlp {report['scoring_seconds']} s in "
        f"{report['scoring_partitions']} partitions (longest {report['longest_partition_seconds']} s, "
        f"at most {report['scoring_memory_mb']} MB), nouns written {manifest['counters']['nouns_written']:,}"
    )


# ------------------------------------------------------------------ memory

JOSA = ["", "은", "는", "이", "가", "을", "를", "에", "의", "로", "으로", "에서", "와", "과", "도", "에는"]
ENDINGS = ["하는", "한다", "하여", "된", "되는", "하고", "할", "시킨"]


def _syllables(rng: random.Random, n: int) -> str:
    return "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(n))


def demo_first_characters() -> tuple[list[str], list[int]]:
    """The first characters of the demo corpus's distinct eojeols (real patent abstracts), with how many start with each."""
    from pipeline.text.noun_extraction import line_eojeols
    from pipeline.tools import synthetic_corpus

    pools = synthetic_corpus.sentence_pools(synthetic_corpus.load_sources())
    eojeols = {e for section in pools.values() for s in section for e in line_eojeols(s, 19)[0]}
    first = collections.Counter(e[0] for e in eojeols)
    chars = sorted(first)
    return chars, [first[c] for c in chars]


def synthetic_counts(n: int, seed: int = 0, first_characters=None) -> list[tuple[str, int]]:
    """n distinct eojeols: random nouns with particles or predicate endings, Zipf-like counts.

    `first_characters` ((characters, weights)): draw each stem's first
    character from them, as real text spreads its eojeols over first
    characters, instead of uniformly over Hangul.
    """
    rng = random.Random(seed)
    eojeols: dict[str, int] = {}
    while len(eojeols) < n:
        length = rng.choice((2, 2, 3, 3, 4, 5))
        if first_characters:
            stem = rng.choices(*first_characters)[0] + _syllables(rng, length - 1)
        else:
            stem = _syllables(rng, length)
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


# ------------------------------------------------------------------ partitions


def _pass(kind: str, path: str, *args):
    """One soynlp pass on one partition file, in a fresh process: (result, seconds, memory grown)."""
    import soynlp.noun  # noqa: F401  (loaded before the measurement, as the stage's setup does)
    import soynlp.utils  # noqa: F401

    from pipeline.config import NounsConfig
    from pipeline.io.memory import PeakMemory
    from pipeline.text import noun_extraction

    run = noun_extraction.predict_partition if kind == "score" else noun_extraction.finish_partition
    with PeakMemory() as memory:
        started = time.time()
        result = run(path, NounsConfig(), *args)
        seconds = time.time() - started
    return result, seconds, memory.grown_bytes


def _one_process():
    import concurrent.futures
    import multiprocessing

    return concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1
    )


def bench_partitions(args) -> None:
    """soynlp's scoring by partitions (the stage's two passes) against one process on all eojeols, back to back."""
    from pipeline.config import NounsConfig
    from pipeline.io.filesystems import read_text_file
    from pipeline.stages.nouns import write_nouns
    from pipeline.text import noun_extraction
    from pipeline.text.noun_extraction import format_count, partition_of
    from pipeline.text.noun_filters import filter_nouns, make_rules

    config = NounsConfig()
    work = tempfile.mkdtemp(prefix="bench_nouns_partitions_")
    items = synthetic_counts(args.eojeols, first_characters=demo_first_characters())
    p = args.partitions
    paths = [os.path.join(work, f"part-{i:05d}-of-{p:05d}.txt") for i in range(p)]
    files = [open(path, "w", encoding="utf-8") for path in paths]  # noqa: SIM115
    sizes = [0] * p
    for eojeol, count in items:
        i = partition_of(eojeol, p)
        files[i].write(format_count(eojeol, count))
        sizes[i] += 1
    for f in files:
        f.close()
    print(
        f"{len(items):,} eojeols (first characters as in the demo corpus's real abstracts) in {p} partitions; "
        f"largest {max(sizes):,} ({max(sizes) / len(items):.1%}), smallest {min(sizes):,}"
    )
    # Each pass of each partition in a fresh process, one at a time: the stage's tasks.
    scored, times1, grown = [], [], []
    for path in paths:
        with _one_process() as pool:
            result, seconds, memory = pool.submit(_pass, "score", path).result()
        scored.append(result), times1.append(seconds), grown.append(memory)
    started = time.time()
    parts: dict = {}
    for found in scored:
        parts.update(noun_extraction.compound_parts_index(found, config))
    parts_s = time.time() - started
    nouns, times2 = {}, []
    for path, found in zip(paths, scored, strict=True):
        with _one_process() as pool:
            result, seconds, memory = pool.submit(_pass, "finish", path, found, parts).result()
        nouns.update(result), times2.append(seconds), grown.append(memory)
    started = time.time()
    rules = make_rules(
        config,
        *(read_text_file(os.path.join(REPO, "dictionaries", n), n) for n in ("stopwords.txt", "units.txt")),
    )
    kept, dropped = filter_nouns(nouns, rules)
    write_nouns(work, kept, dropped)
    write_s = time.time() - started
    biggest = sizes.index(max(sizes))
    print(
        f"pass 1 (scores): longest partition {max(times1):.1f} s (the largest: {times1[biggest]:.1f} s), all {sum(times1):.1f} s"
    )
    print(f"pass 2 (compounds, post-processing): longest {max(times2):.1f} s, all {sum(times2):.1f} s")
    print(f"compound parts merged: {len(parts):,} nouns in {parts_s:.1f} s")
    print(f"nouns filtered and written: {len(kept):,} kept, {len(dropped):,} dropped in {write_s:.1f} s")
    started = time.time()
    with open(os.path.join(work, "eojeol_counts.txt"), "wb") as merged:
        noun_extraction.merge_count_files(paths, 1, (merged,))
    merge_s = time.time() - started
    print(f"eojeol_counts.txt merged from the partitions (a step beside the two passes): {merge_s:.1f} s")
    critical = max(max(times1) + parts_s + max(times2), merge_s) + write_s
    print(
        f"critical path (a task per partition, then the write): {critical:.1f} s; largest task memory {max(grown) / 2**20:.0f} MB"
    )
    if args.check:
        full = os.path.join(work, "all.txt")
        with open(full, "w", encoding="utf-8") as f:
            f.writelines(format_count(e, c) for e, c in items)
        code = "import soynlp.noun, soynlp.utils\n" + MEASURE.format(path=full) + CHECK
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
        )
        lines = out.stdout.strip().splitlines()
        r = json.loads(lines[-2])
        reference = json.loads(lines[-1])
        found = {n: [v.frequency, v.score, list(v.parts)] for n, v in nouns.items()}
        print(
            f"one process on all eojeols (extract_nouns): {r['seconds']:.1f} s, {r['grown'] / 2**20:.0f} MB; "
            f"{r['seconds'] / critical:.1f}x the critical path; same nouns: {found == reference} ({len(found):,})"
        )


CHECK = """
print(json.dumps({n: [v.frequency, v.score, list(v.parts)] for n, v in found.items()}, ensure_ascii=False))
"""


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
    partitions = sub.add_parser("partitions", help="scoring by partitions against one process")
    partitions.add_argument("--eojeols", type=int, default=400_000)
    partitions.add_argument("--partitions", type=int, default=64)
    partitions.add_argument("--check", action="store_true", help="also score everything in one process")
    args = parser.parse_args(argv)
    {"count": bench_count, "memory": bench_memory, "partitions": bench_partitions}[args.command](args)


if __name__ == "__main__":
    main()
