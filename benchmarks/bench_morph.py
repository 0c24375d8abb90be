"""Speed of the `morph` stage's tagging against MeCab's own C++ command line, on the same text.

    .venv/bin/python benchmarks/bench_morph.py [--docs 2000] [--workers 0]

Generates a synthetic corpus (`python -m pipeline generate-corpus`), runs
ingest and clean on it, then times, on clean's sentences:
1. the `morph` transform (MorphSentences, DirectRunner multi_processing, all cores);
2. `python -m mecab -Owakati FILE` (MeCab's C++ CLI) on one core, the same sentences;
3. python-mecab-ko's `MeCab().morphs()` on one core, for reference.
MB/s counts UTF-8 bytes of sentence text. Not a test: run on demand.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

from synthetic_setup import REPO, prepare


def _prepare(work: str, docs: int) -> str:
    _, _, config = prepare(work, docs)
    subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--stages", "ingest,clean", "--config", config],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return os.path.join(work, "out", "clean", "sentences")


def main(argv=None) -> None:
    import apache_beam as beam
    import pyarrow.parquet as pq
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.config import MorphConfig
    from pipeline.stages.morph import MorphSentences

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--keep", help="work folder to keep (and reuse)")
    args = parser.parse_args(argv)
    cores = args.workers or os.cpu_count()
    work = args.keep or tempfile.mkdtemp(prefix="bench_morph_")
    sentences_dir = _prepare(work, args.docs)

    texts = []
    for path in sorted(glob.glob(os.path.join(sentences_dir, "*.parquet"))):
        texts.extend(pq.read_table(path, columns=["text"]).column("text").to_pylist())
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"text: {len(texts):,} sentences, {mb:.1f} MB")

    out = os.path.join(work, "morph_out")
    options = PipelineOptions(
        ["--direct_running_mode=multi_processing", f"--direct_num_workers={args.workers}"]
    )
    start = time.time()
    with beam.Pipeline(options=options) as p:
        _ = p | MorphSentences(
            os.path.join(sentences_dir, "*.parquet"), MorphConfig(), None, out, "paragraphs"
        )
    stage_s = time.time() - start
    print(
        f"morph stage      {stage_s:6.1f} s wall on {cores} cores: {mb / stage_s / cores:.2f} MB/s per core"
    )

    text_file = os.path.join(work, "sentences.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    start = time.time()
    subprocess.run([sys.executable, "-m", "mecab", "-Owakati", "-o", os.devnull, text_file], check=True)
    cli_s = time.time() - start
    print(f"mecab C++ CLI    {cli_s:6.1f} s wall on 1 core:  {mb / cli_s:.2f} MB/s per core")

    import mecab

    tagger = mecab.MeCab()
    sample = texts[: max(1, len(texts) // 4)]
    sample_mb = sum(len(t.encode("utf-8")) for t in sample) / 1e6
    start = time.process_time()
    for t in sample:
        tagger.morphs(t)
    morphs_s = time.process_time() - start
    print(f"MeCab().morphs() {morphs_s:6.1f} s CPU on 1 core:  {sample_mb / morphs_s:.2f} MB/s per core")


if __name__ == "__main__":
    main()
