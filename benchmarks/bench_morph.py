"""Speed of the `morph` stage's tagging against MeCab's own C++ command line, on the same text.

    .venv/bin/python benchmarks/bench_morph.py [--docs 10000] [--workers 0] [--rounds 3] [--keep DIR]

Generates a synthetic corpus (`python -m pipeline generate-corpus`), runs
ingest and clean on it, then, in each round, back to back on clean's sentences:
1. the `morph` transform (MorphSentences, DirectRunner multi_processing, all
   cores), Beam's start-up, Parquet and text writing included;
2. `python -m mecab -Owakati FILE` (MeCab's C++ CLI, one core) on the same
   sentences, one per line.
MB counts UTF-8 bytes of sentence text. "Per core" is MB per CPU second: the
CPU time of this process and of its children (Beam's workers, the CLI's
process), which a neighbour's load on a shared machine inflates far less than
wall time; wall-clock figures (wall x cores for the stage) are printed beside
them. Each round prints the stage's share of the CLI's speed, then the lowest.
The stage's morphemes are checked against python-mecab-ko's `MeCab().morphs()`,
token for token, on every --check-every'th sentence (1: all), and
`restore_spacing` must rebuild every sentence. Not a test: run on demand.
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from synthetic_setup import REPO, prepare


def _prepare(work: str, docs: int) -> str:
    _, _, config = prepare(work, docs)
    sentences = os.path.join(work, "out", "clean", "sentences")
    if not glob.glob(os.path.join(sentences, "*.parquet")):
        subprocess.run(
            [sys.executable, "-m", "pipeline", "run", "--stages", "ingest,clean", "--config", config],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    return sentences


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process, and of its ended children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run_stage(sentences_dir: str, out: str, workers: int) -> tuple[float, float]:
    """The morph transform over the shards: (wall seconds, CPU seconds of this process and its workers)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.config import MorphConfig
    from pipeline.stages.morph import MorphSentences

    shutil.rmtree(out, ignore_errors=True)
    options = PipelineOptions(["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"])
    own0, children0 = _cpu()
    start = time.perf_counter()
    with beam.Pipeline(options=options) as p:
        _ = p | MorphSentences(
            os.path.join(sentences_dir, "*.parquet"), MorphConfig(), None, out, "paragraphs"
        )
    wall = time.perf_counter() - start
    own1, children1 = _cpu()
    return wall, (own1 - own0) + (children1 - children0)


def run_cli(text_file: str) -> tuple[float, float]:
    """MeCab's C++ command line on the file: (wall seconds, its CPU seconds)."""
    _, children0 = _cpu()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mecab", "-Owakati", "-o", os.devnull, text_file], check=True)
    wall = time.perf_counter() - start
    return wall, _cpu()[1] - children0


def check_output(out: str, texts: list[str], every: int) -> tuple[int, float, float]:
    """The stage's rows against MeCab().morphs() (every `every`th sentence) and the
    sentences (all); returns the number of sentences compared with morphs(), their
    MB and the CPU seconds morphs() took on them."""
    import mecab
    import pyarrow.parquet as pq

    from pipeline.text.morphemes import restore_spacing

    rows = []
    for path in sorted(glob.glob(os.path.join(out, "sentences", "*.parquet"))):
        rows += pq.read_table(path, columns=["morphemes", "word_starts"]).to_pylist()
    if len(rows) != len(texts):
        sys.exit(f"the stage wrote {len(rows):,} sentences for {len(texts):,}")
    tagger = mecab.MeCab()
    compared, compared_mb, morphs_s = 0, 0.0, 0.0
    for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
        if restore_spacing(row["morphemes"], row["word_starts"]) != text:
            sys.exit(f"sentence {i}: restore_spacing does not rebuild {text!r}")
        if i % every == 0:
            start = time.process_time()
            morphs = tagger.morphs(text)
            morphs_s += time.process_time() - start
            compared += 1
            compared_mb += len(text.encode("utf-8")) / 1e6
            if row["morphemes"].split(" ") != morphs:
                sys.exit(f"sentence {i}: {row['morphemes']!r} is not MeCab().morphs() of {text!r}")
    return compared, compared_mb, morphs_s


def main(argv=None) -> None:
    import pyarrow.parquet as pq

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0, help="Beam workers (0: one per core)")
    parser.add_argument("--rounds", type=int, default=3, help="back-to-back rounds of stage and CLI")
    parser.add_argument(
        "--check-every", type=int, default=20, help="compare every Nth sentence with morphs()"
    )
    parser.add_argument("--keep", help="work folder to keep (and reuse)")
    args = parser.parse_args(argv)
    cores = args.workers or os.cpu_count()
    work = args.keep or tempfile.mkdtemp(prefix="bench_morph_")
    sentences_dir = _prepare(work, args.docs)

    # The stage reads the shards in order; the text file follows the same order.
    texts = []
    for path in sorted(glob.glob(os.path.join(sentences_dir, "*.parquet"))):
        texts.extend(pq.read_table(path, columns=["text"]).column("text").to_pylist())
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    text_file = os.path.join(work, "sentences.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    print(f"text: {len(texts):,} sentences, {mb:.1f} MB; {cores} cores, {args.rounds} rounds")

    out = os.path.join(work, "morph_out")
    shares = []
    for round_no in range(1, args.rounds + 1):
        stage_wall, stage_cpu = run_stage(sentences_dir, out, args.workers)
        cli_wall, cli_cpu = run_cli(text_file)
        stage_speed, cli_speed = mb / stage_cpu, mb / cli_cpu
        shares.append(stage_speed / cli_speed)
        print(
            f"round {round_no}: morph stage {stage_speed:.2f} MB/s per core ({stage_cpu:.1f} s CPU; "
            f"{stage_wall:.1f} s wall on {cores} cores = {mb / stage_wall / cores:.2f} MB/s per core), "
            f"mecab C++ CLI {cli_speed:.2f} MB/s per core ({cli_cpu:.1f} s CPU; {cli_wall:.1f} s wall "
            f"= {mb / cli_wall:.2f}); stage = {stage_speed / cli_speed:.0%} of the CLI"
        )
    print(
        f"morph stage against MeCab's C++ CLI, per core (CPU time): lowest {min(shares):.0%}, "
        f"highest {max(shares):.0%} over {len(shares)} rounds (target >= 75%)"
    )
    compared, compared_mb, morphs_s = check_output(out, texts, max(1, args.check_every))
    print(
        f"output: {compared:,} sentences equal to MeCab().morphs() token for token; "
        f"restore_spacing rebuilds all {len(texts):,}; MeCab().morphs() itself on those: "
        f"{compared_mb / morphs_s:.2f} MB/s per core"
    )


if __name__ == "__main__":
    main()
