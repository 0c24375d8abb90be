"""Google's create_pretraining_data.py on the same input as bench_tfrecords.py: the reference.

    .venv/bin/pip download --no-deps bert-tensorflow==1.0.4 -d /tmp/google_bert
    (cd /tmp/google_bert && python -m zipfile -e bert_tensorflow-1.0.4-py2.py3-none-any.whl src)
    .venv/bin/python benchmarks/bench_google_reference.py --google /tmp/google_bert/src \
        [--scales 1,10] [--dupe-factor 1]

google-research/bert's own script, unmodified, from its PyPI package
(bert-tensorflow 1.0.4): not a dependency of the project and not vendored,
only loaded from where the commands above put it. It was written for
TensorFlow 1; it runs here with `tensorflow.compat.v1` standing in for
`tensorflow` (the same gfile, python_io.TFRecordWriter, flags and logging).

Input: the demo corpus's morph sentences copied `scale` times exactly as
bench_tfrecords.py copies them, written as Google's input format (one
sentence of space-separated morphemes per line, a blank line between
publications), and the demo BERT vocab (`do_lower_case=False`: lower-casing
strips accents and splits Hangul into jamo). Settings: max_seq_length 128,
max_predictions_per_seq 20, masked_lm_prob 0.15, short_seq_prob 0.1, whole-word
masking off (Google's default), one output file, no compression.

Prints, per scale, the CPU seconds of `create_training_instances` plus
`write_instance_to_example_files` (the script's work; TensorFlow's import is
left out, which favours Google), MB/s of morpheme text per CPU second,
instances, and the child process's peak RSS. Each scale runs in a child
process. With --against-ours, each scale also runs bench_tfrecords.py's
measurement (our stage, bert-128, same dupe_factor) right after Google's, for
--rounds rounds, and prints our throughput over Google's per round: this
machine's speed drifts by up to ~2x over minutes, so only back-to-back ratios
compare. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEMO_VOCAB = os.path.join(REPO, "output", "demo", "vocab", "bert", "vocab.txt")


def google_input(path: str, scale: int) -> float:
    """bench_tfrecords' scaled corpus as Google's input text; returns MB of morpheme text."""
    from bench_tfrecords import demo_rows

    rows = demo_rows()
    documents: dict[str, list] = {}
    for row in rows:
        documents.setdefault(row["doc_id"], []).append(
            (row["paragraph_index"], row["sentence_index"], row["morphemes"])
        )
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(scale):
            for doc_id in sorted(documents):
                for _, _, morphemes in sorted(documents[doc_id]):
                    f.write(morphemes + "\n")
                    size += len(morphemes.encode("utf-8")) + 1
                f.write("\n")
    return size / 1e6


def run_scale(google_dir: str, scale: int, vocab: str, dupe_factor: int) -> dict:
    work = tempfile.mkdtemp(prefix="bench_google_")
    text = os.path.join(work, "input.txt")
    mb = google_input(text, scale)
    sys.path.insert(0, google_dir)
    import tensorflow.compat.v1 as tf1

    sys.modules["tensorflow"] = tf1  # the script's `import tensorflow as tf`, as TF1
    from bert import create_pretraining_data as google
    from bert import tokenization

    output = os.path.join(work, "google.tfrecord")
    google.FLAGS(
        [
            "create_pretraining_data",
            f"--input_file={text}",
            f"--output_file={output}",
            f"--vocab_file={vocab}",
        ]
    )
    tf1.logging.set_verbosity(tf1.logging.WARN)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu0, t0 = time.process_time(), time.perf_counter()
    tokenizer = tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=False)
    rng = random.Random(12345)
    instances = google.create_training_instances([text], tokenizer, 128, dupe_factor, 0.1, 0.15, 20, rng)
    google.write_instance_to_example_files(instances, tokenizer, 128, 20, [output])
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "scale": scale,
        "dupe_factor": dupe_factor,
        "morpheme_mb": round(mb, 2),
        "instances": len(instances),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "mb_per_cpu_s": round(mb / cpu, 3),
        "peak_rss_mb": round(rss),
        "rss_growth_mb": round(rss - rss0),
    }


def main() -> int:
    from bench_tfrecords import child_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--google", required=True, help="folder holding bert/create_pretraining_data.py")
    parser.add_argument("--vocab", default=DEMO_VOCAB)
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--dupe-factor", type=int, default=1)
    parser.add_argument("--against-ours", action="store_true", help="also run our stage, back to back")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.google, "bert", "create_pretraining_data.py")):
        parser.error(f"--google {args.google}: no bert/create_pretraining_data.py there (see the docstring)")
    if args.one:
        print(json.dumps(run_scale(args.google, args.one, args.vocab, args.dupe_factor)))
        return 0
    ours_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_tfrecords.py")
    for scale in map(int, args.scales.split(",")):
        for _ in range(args.rounds):
            command = [
                sys.executable,
                __file__,
                "--one",
                str(scale),
                "--google",
                args.google,
                "--vocab",
                args.vocab,
            ]
            command += ["--dupe-factor", str(args.dupe_factor)]
            google = child_result(command)
            print("google", json.dumps(google), flush=True)
            if not args.against_ours:
                continue
            command = [sys.executable, ours_script, "--one", str(scale), "--vocab", args.vocab]
            command += ["--dupe-factor", str(args.dupe_factor)]
            ours = child_result(command)
            print("ours  ", json.dumps(ours), flush=True)
            print(
                f"scale {scale}: ours / Google = {ours['mb_per_cpu_s'] / google['mb_per_cpu_s']:.2f}x per core; "
                f"peak RSS {ours['peak_rss_mb']} vs {google['peak_rss_mb']} MB",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
