"""The vocab stage's central step: SentencePiece and WordPiece one after the other, or side by side.

    .venv/bin/python benchmarks/bench_vocab.py --docs 10000 [--rounds 2] [--keep DIR]
    .venv/bin/python benchmarks/bench_vocab.py --sentences 1000000 --types 800000 [--rounds 1]

The sample: with `--docs`, a synthetic corpus (`python -m pipeline
generate-corpus`) run through the CLI up to vocab, whose Beam part draws the
training sample and counts its words (that corpus reuses the demo's sentences,
so it has few distinct words: a few thousand). With `--sentences`, a sample
written directly: sentences of `--words` words (40, about the morphemes of a
demo sentence) drawn from `--types` made-up Hangul
words (1 to 4 syllables) with Zipf-like frequencies (rank^-1), so that the
number of distinct words is what a real corpus of that size has (the demo's
2,483 training sentences hold 5,778 distinct words; by Heaps' law 5M
sentences hold some 0.5 to 0.8 million). Then both vocabularies are trained
from the sample in a fresh process per try, the two modes alternating for
`--rounds` rounds:

- `sequential`: SentencePiece (BERT), then tensorflow-text's WordPiece learner
  (ELECTRA), as the stage did until 7 Dec;
- `concurrent`: SentencePiece in a thread while WordPiece learns, its threshold
  search in `--processes` processes (3: two levels a round), as the stage
  does now (`pipeline/stages/vocab.py:train_vocabularies`; SentencePiece's C++
  trainer releases the GIL; WordPiece starts once SentencePiece has read the
  sentences, which it does through Python).

Prints, per try, each learner's seconds, the step's wall time and the process's
peak RSS, and checks that both modes write the same vocabularies.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

from synthetic_setup import REPO, prepare

STAGES = ("ingest", "clean", "nouns", "dictionary", "morph", "vocab")


def _timed(function, *args):
    started = time.time()
    return function(*args), time.time() - started


def synthetic_sample(folder: str, sentences: int, types: int, words_per_sentence: int, seed: int = 0) -> int:
    """`folder`/sample/train-*.txt and electra/word_counts-*.tsv as the vocab stage
    writes them, made up (see the module's docstring; kept and reused when `folder`
    holds them); returns the distinct words."""
    import collections

    counts_path = os.path.join(folder, "electra", "word_counts-00000-of-00001.tsv")
    if os.path.exists(counts_path):
        with open(counts_path, encoding="utf-8") as f:
            return sum(1 for _ in f)

    import numpy as np

    rng = np.random.default_rng(seed)
    syllables = np.array([chr(0xAC00 + i) for i in range(11172)])
    lengths = rng.choice([1, 2, 3, 4], size=types, p=[0.15, 0.45, 0.3, 0.1])
    words = ["".join(rng.choice(syllables, size=n)) for n in lengths]
    weights = 1.0 / np.arange(1, types + 1)
    drawn = rng.choice(types, size=(sentences, words_per_sentence), p=weights / weights.sum())
    counts: collections.Counter = collections.Counter()
    os.makedirs(os.path.join(folder, "sample"), exist_ok=True)
    os.makedirs(os.path.join(folder, "electra"), exist_ok=True)
    with open(os.path.join(folder, "sample", "train-00000-of-00001.txt"), "w", encoding="utf-8") as f:
        for row in drawn:
            line = [words[i] for i in row]
            counts.update(line)
            f.write(" ".join(line) + "\n")
    with open(os.path.join(folder, "electra", "word_counts-00000-of-00001.tsv"), "w", encoding="utf-8") as f:
        for word, count in sorted(counts.items()):
            f.write(f"{word}\t{count}\n")
    return len(counts)


def child(mode: str, config_path: str, folder: str, processes: int) -> None:
    """One try: train both vocabularies from the sample in `folder`; print JSON."""
    from pipeline.config import load_config
    from pipeline.pretraining.vocab_learning import learn_wordpiece, train_sentencepiece
    from pipeline.stages.vocab import read_lines, read_word_counts

    c = load_config(config_path).vocab
    sentences = sorted(read_lines(os.path.join(folder, "sample", "train-*")))
    counts = read_word_counts(os.path.join(folder, "electra", "word_counts-*"))

    def bert(read=None):
        return train_sentencepiece(
            sentences,
            c.bert_vocab_size,
            on_read=None if read is None else read.set,
            model_type=c.model_type,
            character_coverage=c.character_coverage,
            max_sentence_bytes=c.max_sentence_bytes,
            num_threads=c.spm_num_threads,
        )

    def electra():
        return learn_wordpiece(counts, c.electra_vocab_size, c, 1 if mode == "sequential" else processes)

    import tensorflow_text  # noqa: F401  (imported before timing, in both modes)

    started = time.time()
    if mode == "sequential":
        (model, _), spm_s = _timed(bert)
        electra_vocab, wp_s = _timed(electra)
    else:  # as the stage does: WordPiece starts once SentencePiece has read the sentences
        read = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(_timed, bert, read)
            read.wait()
            electra_vocab, wp_s = _timed(electra)
            (model, _), spm_s = future.result()
    wall = time.time() - started
    digest = hashlib.sha256(model + "\n".join(electra_vocab).encode("utf-8")).hexdigest()[:16]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "sentencepiece_s": spm_s,
                "wordpiece_s": wp_s,
                "wall_s": wall,
                "peak_mib": peak,
                "digest": digest,
            }
        )
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--sentences", type=int, help="a made-up sample of this many sentences instead")
    parser.add_argument("--types", type=int, default=800_000, help="made-up words to draw from")
    parser.add_argument("--words", type=int, default=40, help="words per made-up sentence")
    parser.add_argument("--modes", default="sequential,concurrent", help="which modes to time, in order")
    parser.add_argument(
        "--processes", type=int, default=1, help="concurrent mode: processes for WordPiece's threshold search"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", help="work folder to keep (and reuse)")
    parser.add_argument("--child", choices=("sequential", "concurrent"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.config, args.folder, args.processes)
        return
    work = args.keep or tempfile.mkdtemp(prefix="bench_vocab_")
    if args.sentences:
        config = os.path.join(REPO, "pipeline.yaml")
        folder = os.path.join(work, f"sample_{args.sentences}_{args.types}_{args.words}")
        distinct = synthetic_sample(folder, args.sentences, args.types, args.words)
        print(
            f"made-up sample: {args.sentences:,} sentences of {args.words} words, {distinct:,} distinct words "
            f"(of {args.types:,}); {os.cpu_count()} cores"
        )
    else:
        _, input_bytes, config = prepare(work, args.docs)
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", "run", "--to", "vocab", "--config", config],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"run --to vocab failed:\n{done.stderr[-3000:]}")
        folder = os.path.join(work, "out", "vocab")
        with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
            report = json.load(f)["report"]
        print(
            f"corpus: {args.docs:,} publications ({input_bytes / 1e6:.1f} MB raw); vocab sample: "
            f"{report['train_sentences']:,} sentences, {report['train_words_distinct']:,} distinct words; "
            f"{os.cpu_count()} cores"
        )
    print(
        f"{'round':>5} {'mode':<11} {'SentencePiece s':>15} {'WordPiece s':>11} {'step wall s':>11} {'peak MiB':>9}"
    )
    digests, walls = set(), {"sequential": [], "concurrent": []}
    for round_ in range(1, args.rounds + 1):
        for mode in args.modes.split(","):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--config", config, "--folder", folder]
                + ["--processes", str(args.processes)],
                cwd=REPO,
                capture_output=True,
                text=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            )
            if out.returncode != 0:
                sys.exit(f"{mode} failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            digests.add(r["digest"])
            walls[mode].append(r["wall_s"])
            print(
                f"{round_:>5} {mode:<11} {r['sentencepiece_s']:15.1f} {r['wordpiece_s']:11.1f} "
                f"{r['wall_s']:11.1f} {r['peak_mib']:9.0f}"
            )
    if len(walls["sequential"]) and len(walls["concurrent"]):
        print(f"same vocabularies in both modes: {'yes' if len(digests) == 1 else 'NO'}")
    pairs = zip(walls["sequential"], walls["concurrent"], strict=False)  # none when one mode ran
    for round_, (seq, con) in enumerate(pairs, 1):
        print(f"round {round_}: concurrent takes {con / seq:.2f} of the sequential wall time")


if __name__ == "__main__":
    main()
